// The flash attention forward kernel: one CTA per block of kBlockM queries of one (batch, head),
// looping over blocks of kBlockN keys held in shared memory, online softmax in registers, O and
// the log-sum-exp written once. Ref: Dao 2023, "FlashAttention-2", Algorithm 1.
//
// Version log (bf16, `latentcast-bench attention --device cuda --backends flash,...`, NVIDIA H200,
// PyTorch 2.11 + CUDA 13; TFLOP/s = 4 B H N^2 d / time; SDPA's FA2 backend gives 278-300 and cuDNN
// 438-475 at (4,8,4096,64) and (1,8,16384,64) in the same runs):
//   v1 2026-12-02  mma.sync m16n8k16 + ldmatrix, cp.async double-buffered K and V, Q fragments
//                  re-read from shared memory per k-step, 16-byte padded rows, O staged through
//                  shared memory for 16-byte stores; per warp 32 query rows (kBlockM 128, 4 warps),
//                  kBlockN 64. (4,8,4096,64) 283-290 TFLOP/s, (1,8,16384,64) 299-306,
//                  (4,8,4096,32) 211, (16,4,784,32) 91-98, (2,8,3136,64) 209-211. 240 registers,
//                  2 CTAs per SM.
//   v1 tile alternatives at (4,8,4096,64) / (4,8,4096,32), same run: 16 rows per warp
//                  (kBlockM 64, 4 warps) 232 / 188; kBlockM 128 with 8 warps 253 / 177; kBlockM
//                  128, kBlockN 128, 8 warps 232 / 204. Fewer rows per warp re-read K and V from
//                  shared memory more often than the extra warps hide: v1's tiles stay.
//   On sm_90, head dim 64 runs the warp-specialised kernel (flash_fwd_ws_kernel.cuh) and head dim
//   128 the wgmma kernel (flash_fwd_wgmma_kernel.cuh), each with its own log.
#pragma once

#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"

namespace latentcast::kernels::flash {

// Tile shape of the forward. Each warp owns kMTiles 16-row query tiles; S (kBlockM x kBlockN) and O
// (kBlockM x kHeadDim) live in registers as mma accumulators.
template <int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_>
struct FwdTraits {
  static constexpr int kHeadDim = kHeadDim_, kBlockM = kBlockM_, kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_, kThreads = 32 * kWarps;
  static constexpr int kMTiles = kBlockM / (16 * kWarps);  // 16-row tiles per warp
  static constexpr int kNTiles = kBlockN / 8;              // 8-column tiles of S
  static constexpr int kDTiles = kHeadDim / 8;             // 8-column tiles of O
  static constexpr int kStride = kHeadDim + 8;             // +16 bytes: ldmatrix rows in 8 banks
  static constexpr int kSmemQ = kBlockM * kStride;         // elements
  static constexpr int kSmemKV = kBlockN * kStride;        // one K or V buffer
  static constexpr int kSmemBytes = (kSmemQ + 4 * kSmemKV) * 2;
  static_assert(kHeadDim % 16 == 0 && kHeadDim <= 256, "head dim: a multiple of 16, at most 256");
  static_assert(kBlockM % (16 * kWarps) == 0, "each warp owns whole 16-row query tiles");
  static_assert(kBlockN % 16 == 0, "key blocks are whole k-steps of the P.V product");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads) flash_fwd_kernel(const FlashFwdParams p) {
  using E = Elem<T>;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kHeadDim = Traits::kHeadDim;
  constexpr int kStride = Traits::kStride, kThreads = Traits::kThreads;
  constexpr int kMTiles = Traits::kMTiles, kNTiles = Traits::kNTiles, kDTiles = Traits::kDTiles;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + Traits::kSmemQ;       // 2 buffers
  T* sV = sK + 2 * Traits::kSmemKV;  // 2 buffers

  const int m0 = blockIdx.x * kBlockM;
  const int b = blockIdx.y / p.heads, h = blockIdx.y % p.heads;
  const T* q =
      static_cast<const T*>(p.q) + b * p.q_batch_stride + h * p.q_head_stride + m0 * p.q_row_stride;
  const T* k = static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride;
  const T* v = static_cast<const T*>(p.v) + b * p.v_batch_stride + h * p.v_head_stride;
  const int rows_q = min(kBlockM, p.n_q - m0);
  const int n_blocks = (p.n_k + kBlockN - 1) / kBlockN;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;  // mma fragment row and column pair
  const T* any = static_cast<const T*>(p.k);

  load_tile<kBlockM, kHeadDim, kStride, kThreads>(sQ, q, p.q_row_stride, rows_q, p.d, any);
  load_tile<kBlockN, kHeadDim, kStride, kThreads>(sK, k, p.k_row_stride, p.n_k, p.d, any);
  cp_async_commit();
  load_tile<kBlockN, kHeadDim, kStride, kThreads>(sV, v, p.v_row_stride, p.n_k, p.d, any);
  cp_async_commit();

  float o[kMTiles][kDTiles][4];
  float row_max[kMTiles][2], row_sum[kMTiles][2];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
      for (int c = 0; c < 4; ++c) o[mt][dt][c] = 0.f;
    row_max[mt][0] = row_max[mt][1] = -INFINITY;
    row_sum[mt][0] = row_sum[mt][1] = 0.f;
  }
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int warp_row0 = warp * kMTiles * 16;

  for (int j = 0; j < n_blocks; ++j) {
    const int buf = j & 1;
    const T* sKb = sK + buf * Traits::kSmemKV;
    const T* sVb = sV + buf * Traits::kSmemKV;
    cp_async_wait<1>();  // K_j (and Q) landed; V_j may still be in flight
    __syncthreads();

    // S = Q K_j^T
    float s[kMTiles][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[mt][nt][c] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      std::uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
        ldsm_x4(a[mt], smem_addr(sQ + (warp_row0 + mt * 16 + lane % 16) * kStride + kk * 16 +
                                 (lane / 16) * 8));
#pragma unroll
      for (int nt = 0; nt < kNTiles; nt += 2) {
        std::uint32_t bf[4];
        ldsm_x4(bf, smem_addr(sKb + (nt * 8 + (lane / 16) * 8 + lane % 8) * kStride + kk * 16 +
                              ((lane / 8) % 2) * 8));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          E::mma(s[mt][nt], a[mt], bf[0], bf[1]);
          E::mma(s[mt][nt + 1], a[mt], bf[2], bf[3]);
        }
      }
    }

    // Prefetch K_{j+1} into the other buffer (every warp is past its S of block j-1).
    if (j + 1 < n_blocks)
      load_tile<kBlockN, kHeadDim, kStride, kThreads>(
          sK + (buf ^ 1) * Traits::kSmemKV, k + (j + 1) * kBlockN * p.k_row_stride, p.k_row_stride,
          p.n_k - (j + 1) * kBlockN, p.d, any);
    cp_async_commit();

    // Keys past n_k (the last block only) get no weight.
    if ((j + 1) * kBlockN > p.n_k) {
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int col = j * kBlockN + nt * 8 + 2 * tq + (c & 1);
          if (col >= p.n_k)
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) s[mt][nt][c] = -INFINITY;
        }
    }

    // Online softmax: rows quad (c = 0, 1) and quad + 8 (c = 2, 3) of each tile; a row's columns
    // are spread over the 4 lanes of a quad.
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = row_max[mt][r];
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
          mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // Every block holds at least one valid key, so mx is finite here.
        const float corr = fast_exp2((row_max[mt][r] - mx) * scale_log2);
        row_max[mt][r] = mx;
        const float mxs = mx * scale_log2;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
          const float p0 = fast_exp2(s[mt][nt][2 * r] * scale_log2 - mxs);
          const float p1 = fast_exp2(s[mt][nt][2 * r + 1] * scale_log2 - mxs);
          s[mt][nt][2 * r] = p0;
          s[mt][nt][2 * r + 1] = p1;
          sum += p0 + p1;
        }
        row_sum[mt][r] = row_sum[mt][r] * corr + sum;
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
          o[mt][dt][2 * r] *= corr;
          o[mt][dt][2 * r + 1] *= corr;
        }
      }
    }

    cp_async_wait<1>();  // V_j landed; K_{j+1} may still be in flight
    __syncthreads();

    // O += P V_j, P from the S accumulators (the C layout of two 8-column tiles is the A layout of
    // one 16-wide k-step).
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      std::uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        a[mt][0] = E::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        a[mt][1] = E::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        a[mt][2] = E::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        a[mt][3] = E::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dt = 0; dt < kDTiles; dt += 2) {
        std::uint32_t bf[4];
        ldsm_x4_trans(bf, smem_addr(sVb + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * kStride +
                                    dt * 8 + (lane / 16) * 8));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          E::mma(o[mt][dt], a[mt], bf[0], bf[1]);
          E::mma(o[mt][dt + 1], a[mt], bf[2], bf[3]);
        }
      }
    }

    if (j + 1 < n_blocks)
      load_tile<kBlockN, kHeadDim, kStride, kThreads>(
          sV + (buf ^ 1) * Traits::kSmemKV, v + (j + 1) * kBlockN * p.v_row_stride, p.v_row_stride,
          p.n_k - (j + 1) * kBlockN, p.d, any);
    cp_async_commit();
  }
  cp_async_wait<0>();

  // Normalise, write the log-sum-exp (natural log of the scaled scores), stage O in the warp's own
  // rows of sQ (no other warp reads them) and store 16 bytes per thread.
  float* lse = p.lse + static_cast<std::int64_t>(blockIdx.y) * p.n_q + m0;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = row_sum[mt][r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = 1.f / sum;
      const int row = warp_row0 + mt * 16 + quad + 8 * r;
      if (tq == 0 && row < rows_q) lse[row] = row_max[mt][r] * p.scale + logf(sum);
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt)
        *reinterpret_cast<std::uint32_t*>(sQ + row * kStride + dt * 8 + 2 * tq) =
            E::pack(o[mt][dt][2 * r] * inv, o[mt][dt][2 * r + 1] * inv);
    }
  }
  __syncthreads();
  T* out = static_cast<T*>(p.o) + b * p.o_batch_stride + h * p.o_head_stride + m0 * p.o_row_stride;
  constexpr int kChunksPerRow = kHeadDim / 8;
#pragma unroll
  for (int i = 0; i < (kBlockM * kChunksPerRow + kThreads - 1) / kThreads; ++i) {
    const int c = i * kThreads + static_cast<int>(threadIdx.x);
    const int row = c / kChunksPerRow, col = (c % kChunksPerRow) * 8;
    if (row < rows_q && col < p.d)
      *reinterpret_cast<uint4*>(out + row * p.o_row_stride + col) =
          *reinterpret_cast<const uint4*>(sQ + row * kStride + col);
  }
}

template <class Traits, class T>
cudaError_t launch_fwd(const FlashFwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0) return cudaSuccess;
  if (bh > kMaxBatchHeads) return cudaErrorInvalidConfiguration;
  return launch_with_smem(flash_fwd_kernel<Traits, T>,
                          dim3((p.n_q + Traits::kBlockM - 1) / Traits::kBlockM, bh),
                          Traits::kThreads, Traits::kSmemBytes, stream, p);
}

// Tile shapes per head dim (the version log has the numbers behind them).
template <int kHeadDim>
struct FwdConfig;
template <>
struct FwdConfig<32> {
  using Traits = FwdTraits<32, 128, 64, 4>;
};
template <>
struct FwdConfig<64> {
  using Traits = FwdTraits<64, 128, 64, 4>;
};
template <>
struct FwdConfig<128> {
  using Traits = FwdTraits<128, 128, 64, 8>;
};

template <int kHeadDim, class T>
cudaError_t run_fwd_hdim(const FlashFwdParams& p, cudaStream_t stream) {
  return launch_fwd<typename FwdConfig<kHeadDim>::Traits, T>(p, stream);
}

}  // namespace latentcast::kernels::flash
