// The flash attention forward on Hopper's warpgroup tensor-core instructions (wgmma, sm_90a): one
// CTA per block of 64 x kWarpgroups queries of one (batch, head), each warpgroup owning 64 query
// rows; S = Q K^T with both operands in shared memory, O += P V with P from registers; online
// softmax as in flash_fwd_kernel.cuh (whose mma.sync kernel serves other GPUs and head dims).
// Ref: Dao 2023, "FlashAttention-2", Algorithm 1; Shah et al. 2024, "FlashAttention-3" (wgmma).
//
// Version log (bf16, `latentcast-bench attention --device cuda --pass fwd`, NVIDIA H200, PyTorch
// 2.11 + CUDA 13; TFLOP/s = 4 B H N^2 d / time; same run: the mma.sync forward v1 292 / 305 /
// 214 / 246, SDPA cuDNN 447 / 476 / 271 / 574, SDPA FA2 288 / 288 / 209 / 324 at (4,8,4096,64) /
// (1,8,16384,64) / (2,8,3136,64) / (2,4,4096,128)):
//   w1 2026-12-02  wgmma m64nNk16, no-swizzle core-matrix layouts filled by cp.async (K and V
//                  double-buffered), P packed to the A layout before its P.V instructions, each
//                  matrix product waited on at once (softmax and matrix work of one warpgroup do
//                  not overlap; the CTA's barriers keep its warpgroups in step). Correct first
//                  time (the layouts were probed beforehand). 2 warpgroups: kBlockN 128, 1 CTA
//                  per SM (175 registers) 185 / 193 / 134 / -; the same at 2 CTAs per SM (128
//                  registers, 100 bytes spilled) 241 / 264 / 180 / -; kBlockN 64 at 2 CTAs per SM
//                  245 / 264 / 183 / 220 (head dim 128: 1 CTA per SM 201, 2 CTAs per SM with 80
//                  bytes spilled 263); 1 warpgroup (kBlockM 64) at 3 CTAs per SM 151 / 167 / 137
//                  / 139. Kept for head dim 128 only (263 against the mma.sync kernel's 246):
//                  overlapping softmax with the next Q K^T (FlashAttention-3's pipelining and
//                  warpgroup ping-pong) is what the head dim 64 case would need.
//   w2 2026-12-02  (tried, reverted to w1) softmax of S_j overlapped with S_{j+1} = Q K_{j+1} on
//                  the tensor cores (two S register sets, K_{j+2} and V_{j+1} prefetched a whole
//                  iteration ahead, one barrier per iteration). Correct, but not faster: head
//                  dim 64, kBlockN 64, 1 CTA per SM (154 registers) 185 / 196 / 138 / -; 2 CTAs per
//                  SM (72 bytes spilled) 219 / 235 / 163 / -; kBlockN 128 (242 registers) 196 / 208
//                  / 143 / -; head dim 128: 221 (214 registers), 126 (2 CTAs per SM, 764 bytes
//                  spilled), 199 (kBlockN 128, spills). The CTA-wide barriers keep both warpgroups
//                  in step, so their softmax phases still coincide; the next step would be
//                  per-warpgroup barriers (named barriers or mbarriers) and TMA loads, as in
//                  FlashAttention-3.
#pragma once

#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/flash/flash_wgmma.cuh"

namespace latentcast::kernels::flash {

template <int kHeadDim_, int kBlockN_, int kWarpgroups_, int kMinBlocks_ = 1>
struct WgmmaFwdTraits {
  static constexpr int kMinBlocks = kMinBlocks_;  // CTAs per SM asked of the compiler
  static constexpr int kHeadDim = kHeadDim_, kBlockN = kBlockN_, kWarpgroups = kWarpgroups_;
  static constexpr int kThreads = 128 * kWarpgroups, kBlockM = 64 * kWarpgroups;
  static constexpr int kNTiles = kBlockN / 8, kDTiles = kHeadDim / 8;
  static constexpr int kSmemQ = kBlockM * kHeadDim;   // elements, core-matrix layout
  static constexpr int kSmemKV = kBlockN * kHeadDim;  // one K or V buffer
  static constexpr int kSmemBytes = (kSmemQ + 4 * kSmemKV) * 2;
  static constexpr int kStageStride = kHeadDim + 8;  // O staged row-major for 16-byte stores
  static_assert(kHeadDim == 64 || kHeadDim == 128, "wgmma shapes are instantiated for n = 64, 128");
  static_assert(kBlockN == 64 || kBlockN == 128, "wgmma shapes are instantiated for n = 64, 128");
  static_assert(kBlockM * kStageStride <= kSmemQ + 4 * kSmemKV, "O staging fits the tiles' space");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

// A [kRows, kCols] tile into the no-swizzle core-matrix layout: 8x8 cores of 128 contiguous
// bytes, column blocks outermost, element (r, c) at ((c/8) (kRows/8) + r/8) 64 + (r%8) 8 + c%8.
// Chunk i of 16 bytes lands at element 8 i, so a warp writes 512 contiguous bytes.
template <int kRows, int kCols, int kThreads, class T>
__device__ __forceinline__ void load_tile_cores(T* smem, const T* gmem, std::int64_t row_stride,
                                                int rows, int cols, const T* any_valid) {
  constexpr int kChunks = kRows * kCols / 8;
  static_assert(kChunks % kThreads == 0, "whole chunks per thread");
#pragma unroll
  for (int i = 0; i < kChunks / kThreads; ++i) {
    const int c = i * kThreads + static_cast<int>(threadIdx.x);
    const int r = ((c / 8) % (kRows / 8)) * 8 + c % 8, col = (c / kRows) * 8;
    const bool valid = r < rows && col < cols;
    cp_async_16(smem_addr(smem + c * 8), valid ? gmem + r * row_stride + col : any_valid, valid);
  }
}

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks)
    flash_fwd_wgmma_kernel(const FlashFwdParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using E = Elem<T>;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kHeadDim = Traits::kHeadDim;
  constexpr int kThreads = Traits::kThreads, kNTiles = Traits::kNTiles;
  constexpr int kDTiles = Traits::kDTiles;
  extern __shared__ __align__(128) unsigned char smem_raw[];
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
  const int wg = threadIdx.x / 128, warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const T* any = static_cast<const T*>(p.k);

  load_tile_cores<kBlockM, kHeadDim, kThreads>(sQ, q, p.q_row_stride, rows_q, p.d, any);
  load_tile_cores<kBlockN, kHeadDim, kThreads>(sK, k, p.k_row_stride, p.n_k, p.d, any);
  cp_async_commit();
  load_tile_cores<kBlockN, kHeadDim, kThreads>(sV, v, p.v_row_stride, p.n_k, p.d, any);
  cp_async_commit();

  // Descriptor pieces: K-major Q and K step 2 column blocks per k16; V (MN-major) 2 row blocks.
  const std::uint32_t q_base = smem_addr(sQ) + wg * 64 * 16;  // this warpgroup's 64 rows
  constexpr std::uint32_t kQLbo = kBlockM / 8 * 128, kKLbo = kBlockN / 8 * 128;

  float o[kDTiles * 4];
#pragma unroll
  for (int i = 0; i < kDTiles * 4; ++i) o[i] = 0.f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
  const float scale_log2 = p.scale * 1.4426950408889634f;

  for (int j = 0; j < n_blocks; ++j) {
    const int buf = j & 1;
    const std::uint32_t k_base = smem_addr(sK + buf * Traits::kSmemKV);
    const std::uint32_t v_base = smem_addr(sV + buf * Traits::kSmemKV);
    cp_async_wait<1>();  // K_j (and Q) landed
    fence_proxy_async();
    __syncthreads();

    float s[kNTiles * 4];
#pragma unroll
    for (int i = 0; i < kNTiles * 4; ++i) s[i] = 0.f;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      const std::uint64_t da = wgmma_desc(q_base + kk * 2 * kQLbo, kQLbo, 128);
      const std::uint64_t db = wgmma_desc(k_base + kk * 2 * kKLbo, kKLbo, 128);
      if constexpr (kBlockN == 128)
        wgmma_ss_n128<T>(s, da, db);
      else
        wgmma_ss_n64<T>(s, da, db);
    }
    wgmma_commit();
    wgmma_wait<0>();

    if (j + 1 < n_blocks)
      load_tile_cores<kBlockN, kHeadDim, kThreads>(
          sK + (buf ^ 1) * Traits::kSmemKV, k + (j + 1) * kBlockN * p.k_row_stride, p.k_row_stride,
          p.n_k - (j + 1) * kBlockN, p.d, any);
    cp_async_commit();

    if ((j + 1) * kBlockN > p.n_k) {
#pragma unroll
      for (int i = 0; i < kNTiles * 4; ++i)
        if (j * kBlockN + (i / 4) * 8 + 2 * tq + (i & 1) >= p.n_k) s[i] = -INFINITY;
    }

#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = row_max[r];
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
        mx = fmaxf(mx, fmaxf(s[nt * 4 + 2 * r], s[nt * 4 + 2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float corr = fast_exp2((row_max[r] - mx) * scale_log2);
      row_max[r] = mx;
      const float mxs = mx * scale_log2;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
        const float p0 = fast_exp2(s[nt * 4 + 2 * r] * scale_log2 - mxs);
        const float p1 = fast_exp2(s[nt * 4 + 2 * r + 1] * scale_log2 - mxs);
        s[nt * 4 + 2 * r] = p0;
        s[nt * 4 + 2 * r + 1] = p1;
        sum += p0 + p1;
      }
      row_sum[r] = row_sum[r] * corr + sum;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        o[dt * 4 + 2 * r] *= corr;
        o[dt * 4 + 2 * r + 1] *= corr;
      }
    }

    cp_async_wait<1>();  // V_j landed
    fence_proxy_async();
    __syncthreads();

    // P in the A layout, all of it before the first P.V instruction so that they issue back to
    // back.
    std::uint32_t pa[kBlockN / 16][4];
    accum_to_a<T>(s, pa);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      const std::uint64_t db = wgmma_desc(v_base + kk * 2 * 128, 128, kKLbo);
      if constexpr (kHeadDim == 128)
        wgmma_rs_n128_tb<T>(o, pa[kk], db);
      else
        wgmma_rs_n64_tb<T>(o, pa[kk], db);
    }
    wgmma_commit();
    wgmma_wait<0>();

    if (j + 1 < n_blocks)
      load_tile_cores<kBlockN, kHeadDim, kThreads>(
          sV + (buf ^ 1) * Traits::kSmemKV, v + (j + 1) * kBlockN * p.v_row_stride, p.v_row_stride,
          p.n_k - (j + 1) * kBlockN, p.d, any);
    cp_async_commit();
  }
  cp_async_wait<0>();
  __syncthreads();  // every warpgroup is done with the tiles: their space stages O

  T* stage = reinterpret_cast<T*>(smem_raw);
  constexpr int kStride = Traits::kStageStride;
  float* lse = p.lse + static_cast<std::int64_t>(blockIdx.y) * p.n_q + m0;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = row_sum[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inv = 1.f / sum;
    const int row = wg * 64 + warp * 16 + quad + 8 * r;
    if (tq == 0 && row < rows_q) lse[row] = row_max[r] * p.scale + logf(sum);
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
      *reinterpret_cast<std::uint32_t*>(stage + row * kStride + dt * 8 + 2 * tq) =
          E::pack(o[dt * 4 + 2 * r] * inv, o[dt * 4 + 2 * r + 1] * inv);
  }
  __syncthreads();
  T* out = static_cast<T*>(p.o) + b * p.o_batch_stride + h * p.o_head_stride + m0 * p.o_row_stride;
  constexpr int kChunksPerRow = kHeadDim / 8;
#pragma unroll
  for (int i = 0; i < kBlockM * kChunksPerRow / kThreads; ++i) {
    const int c = i * kThreads + static_cast<int>(threadIdx.x);
    const int row = c / kChunksPerRow, col = (c % kChunksPerRow) * 8;
    if (row < rows_q && col < p.d)
      *reinterpret_cast<uint4*>(out + row * p.o_row_stride + col) =
          *reinterpret_cast<const uint4*>(stage + row * kStride + col);
  }
#else
  __trap();  // built without sm_90a: flash_api.cu never launches it then
#endif
}

template <class Traits, class T>
cudaError_t launch_fwd_wgmma(const FlashFwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0) return cudaSuccess;
  if (bh > kMaxBatchHeads) return cudaErrorInvalidConfiguration;
  return launch_with_smem(flash_fwd_wgmma_kernel<Traits, T>,
                          dim3((p.n_q + Traits::kBlockM - 1) / Traits::kBlockM, bh),
                          Traits::kThreads, Traits::kSmemBytes, stream, p);
}

// Tile shapes (the version log has the numbers): only head dim 128 is instantiated, where this
// kernel beats the mma.sync one; head dim 64 runs the warp-specialised kernel
// (flash_fwd_ws_kernel.cuh, w3), which the lessons of w1 and w2 led to.
template <int kHeadDim>
struct WgmmaFwdConfig;
template <>
struct WgmmaFwdConfig<128> {
  using Traits = WgmmaFwdTraits<128, 64, 2, 2>;
};

template <int kHeadDim, class T>
cudaError_t run_fwd_wgmma_hdim(const FlashFwdParams& p, cudaStream_t stream) {
  return launch_fwd_wgmma<typename WgmmaFwdConfig<kHeadDim>::Traits, T>(p, stream);
}

// Whether the wgmma kernel has machine code for the current device (sm_90 only).
template <int kHeadDim, class T>
bool fwd_wgmma_runs_here() {
  cudaFuncAttributes attrs{};
  const cudaError_t status = cudaFuncGetAttributes(
      &attrs, flash_fwd_wgmma_kernel<typename WgmmaFwdConfig<kHeadDim>::Traits, T>);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  int device = 0, major = 0, minor = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  return major == 9 && minor == 0;
}

}  // namespace latentcast::kernels::flash
