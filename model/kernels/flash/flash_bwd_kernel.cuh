// The flash attention backward kernels in the FlashAttention-2 scheme: a preprocessing pass for
// D = rowsum(dO * O) (it also zeroes the fp32 dQ accumulator), the main kernel with one CTA per
// block of kBlockN keys of one (batch, head) that loops over query blocks, recomputes P from the
// saved log-sum-exp, accumulates dK and dV in registers and adds its share of dQ into fp32 with
// atomics, and a pass that scales and casts dQ. No N x N tensor exists anywhere.
// Ref: Dao 2023, "FlashAttention-2", Algorithm 2.
//
// Version log (bf16, `latentcast-bench attention --device cuda --pass fwdbwd`, NVIDIA H200, PyTorch
// 2.11 + CUDA 13; TFLOP/s = 3.5 x 4 B H N^2 d / time of forward + backward, our forward v1
// included; in the v1 run SDPA FA2 gave 269 and cuDNN 434 at (4,8,4096,64)):
//   v1 2026-12-02  each warp owns 16 keys: S^T = K Q^T and dP^T = V dO^T are computed key-major,
//                  so P^T and dS^T feed dV += P^T dO and dK += dS^T Q straight from registers;
//                  dS^T goes through shared memory for dQ = dS K (warps tiled over the query
//                  block), added with float2 atomics. Q, dO, LSE and D double-buffered by cp.async.
//                  128 keys x 64 queries, 8 warps. (4,8,4096,64) 169, (1,8,16384,64) 174,
//                  (4,8,4096,32) 117, (16,4,784,32) 69, (2,8,3136,64) 127. Alternatives, all
//                  within 1 %: K and V fragments kept in registers 170; the same with 4 warps 167;
//                  128 queries per block 168 (spills). Nsight Compute: 1 CTA (8 warps) per SM,
//                  7.5 cycles between issues per warp, stalls on shared-memory loads (32 %) and on
//                  fixed-latency dependencies (31 %): latency bound, not bandwidth bound.
//   v2 2026-12-02  LSE and D read as float2 per column pair (was one 4-byte load per element), dQ
//                  accumulated in two sets (even and odd k-steps) for twice the independent mma
//                  chains. (4,8,4096,64) 239, (4,8,4096,32) 182, (16,4,784,32) 104,
//                  (2,8,3136,64) 177, (2,4,2048,128) 205. Tile alternatives, same run (4096x64 /
//                  4096x32 / 784x32 / 3136x64): 32 queries and 2 CTAs per SM 235 / 199 / 113 / 175;
//                  64 keys (4 warps) and 3 CTAs per SM 220 / 190 / 110 / 201; 64 keys, 32
//                  queries, 4 CTAs per SM 215 / 184 / 106 / 177. Head dim 128 at (2,4,2048,128):
//                  32 queries with 4 warps 181, 16 queries 173-180. Kept: head dim 32 at 2 CTAs
//                  per SM; head dim 64 picks 64-key tiles where the grid's last wave would idle.
//   v3 2026-12-02  the P and dS masks only in the last key or query block; the tile choices of
//                  v2 in place. Two later runs (other H200 machines; SDPA FA2 257-260 and cuDNN
//                  403-409 at (4,8,4096,64) there): (4,8,4096,64) 229-231, (1,8,16384,64) 243-244,
//                  (4,8,4096,32) 201-208, (16,4,784,32) 84-103, (2,8,3136,64) 184-192: within the
//                  run-to-run spread of v2, kept because it removes work from every inner block.
//   On sm_90, head dim 64 runs the warp-specialised backward (flash_bwd_ws_kernel.cuh, its own
//   log), which reuses this file's preprocessing and dQ conversion.
#pragma once

#include <cmath>
#include <type_traits>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"

namespace latentcast::kernels::flash {

template <int kHeadDim_, int kBlockM_, int kWarps_, int kMinBlocks_ = 1>
struct BwdTraits {
  // CTAs per SM asked of the compiler (__launch_bounds__): caps the registers per thread.
  static constexpr int kMinBlocks = kMinBlocks_;
  static constexpr int kHeadDim = kHeadDim_, kBlockM = kBlockM_;
  static constexpr int kWarps = kWarps_, kThreads = 32 * kWarps;
  static constexpr int kBlockN = 16 * kWarps;   // keys per CTA: 16 per warp
  static constexpr int kMTiles = kBlockM / 8;   // 8-column (query) tiles of S^T
  static constexpr int kDTiles = kHeadDim / 8;  // 8-column tiles of dK, dV
  static constexpr int kStride = kHeadDim + 8;  // padded rows of K, V, Q, dO
  static constexpr int kSStride = kBlockM + 8;  // padded rows of dS^T
  // dQ = dS K over the CTA: warps tiled kDqWarpsM x kDqWarpsN over [kBlockM, kHeadDim].
  static constexpr int kDqWarpsM = kBlockM / 16 < kWarps ? kBlockM / 16 : kWarps;
  static constexpr int kDqMTiles = (kBlockM / 16) / kDqWarpsM;
  static constexpr int kDqWarpsN = kWarps / kDqWarpsM;
  static constexpr int kDqCols = kHeadDim / kDqWarpsN;
  static constexpr int kSmemKV = kBlockN * kStride;  // elements, K or V
  static constexpr int kSmemQ = kBlockM * kStride;   // one Q or dO buffer
  static constexpr int kSmemS = kBlockN * kSStride;
  static constexpr int kSmemBytes =
      (2 * kSmemKV + 4 * kSmemQ + kSmemS) * 2 + 4 * kBlockM * 4;  // + LSE and D, 2 buffers each
  static_assert(kHeadDim % 16 == 0 && kHeadDim <= 256, "head dim: a multiple of 16, at most 256");
  static_assert(kBlockM % 16 == 0, "query blocks are whole 16-row tiles");
  static_assert((kBlockM / 16) % kDqWarpsM == 0 && kWarps % kDqWarpsM == 0,
                "dQ tiles split evenly over the warps");
  static_assert(kDqCols % 16 == 0 && kDqCols * kDqWarpsN == kHeadDim,
                "each warp's dQ columns are whole ldmatrix.x4 pairs");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

// D[row] = sum_c dO[row, c] O[row, c] in fp32; zeroes the row of the dQ accumulator. 8 lanes per
// row, 16 bytes each per step.
template <class T>
__global__ void flash_bwd_preprocess_kernel(const FlashBwdParams p) {
  using E = Elem<T>;
  const std::int64_t rows = static_cast<std::int64_t>(p.batch) * p.heads * p.n_q;
  const std::int64_t row = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 8;
  const int sub = threadIdx.x % 8;
  float sum = 0.f;
  if (row < rows) {  // no early return: the whole warp takes part in the shuffles below
    const std::int64_t bh = row / p.n_q, i = row % p.n_q;
    const std::int64_t b = bh / p.heads, h = bh % p.heads;
    const T* dout = static_cast<const T*>(p.dout) + b * p.do_batch_stride + h * p.do_head_stride +
                    i * p.do_row_stride;
    const T* o = static_cast<const T*>(p.o) + b * p.o_batch_stride + h * p.o_head_stride +
                 i * p.o_row_stride;
    float* acc = p.dq_accum + row * p.d;
    for (int c = sub * 8; c < p.d; c += 64) {
      const uint4 x = *reinterpret_cast<const uint4*>(dout + c);
      const uint4 y = *reinterpret_cast<const uint4*>(o + c);
      const std::uint32_t xs[4] = {x.x, x.y, x.z, x.w}, ys[4] = {y.x, y.y, y.z, y.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 a = E::unpack(xs[e]), bb = E::unpack(ys[e]);
        sum += a.x * bb.x + a.y * bb.y;
      }
      *reinterpret_cast<float4*>(acc + c) = make_float4(0.f, 0.f, 0.f, 0.f);
      *reinterpret_cast<float4*>(acc + c + 4) = make_float4(0.f, 0.f, 0.f, 0.f);
    }
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  sum += __shfl_xor_sync(0xffffffffu, sum, 2);
  sum += __shfl_xor_sync(0xffffffffu, sum, 4);
  if (sub == 0 && row < rows) p.delta[row] = sum;
}

// dQ = scale * dQ_accum in the 16-bit type, 4 values per thread (d is a multiple of 8).
template <class T>
__global__ void flash_bwd_convert_dq_kernel(const FlashBwdParams p) {
  const std::int64_t n4 = static_cast<std::int64_t>(p.batch) * p.heads * p.n_q * p.d / 4;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4;
       i += stride) {
    const float4 x = reinterpret_cast<const float4*>(p.dq_accum)[i];
    uint2 y;
    y.x = Elem<T>::pack(x.x * p.scale, x.y * p.scale);
    y.y = Elem<T>::pack(x.z * p.scale, x.w * p.scale);
    reinterpret_cast<uint2*>(p.dq)[i] = y;
  }
}

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks)
    flash_bwd_kernel(const FlashBwdParams p) {
  using E = Elem<T>;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kHeadDim = Traits::kHeadDim;
  constexpr int kStride = Traits::kStride, kSStride = Traits::kSStride;
  constexpr int kThreads = Traits::kThreads, kMTiles = Traits::kMTiles;
  constexpr int kDTiles = Traits::kDTiles;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sK = reinterpret_cast<T*>(smem_raw);
  T* sV = sK + Traits::kSmemKV;
  T* sQ = sV + Traits::kSmemKV;                                  // 2 buffers
  T* sdO = sQ + 2 * Traits::kSmemQ;                              // 2 buffers
  T* sdS = sdO + 2 * Traits::kSmemQ;                             // [kBlockN keys][kBlockM queries]
  float* sLse = reinterpret_cast<float*>(sdS + Traits::kSmemS);  // 2 buffers
  float* sD = sLse + 2 * kBlockM;                                // 2 buffers

  const int n0 = blockIdx.x * kBlockN;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh % p.heads;
  const T* q = static_cast<const T*>(p.q) + b * p.q_batch_stride + h * p.q_head_stride;
  const T* k =
      static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride + n0 * p.k_row_stride;
  const T* v =
      static_cast<const T*>(p.v) + b * p.v_batch_stride + h * p.v_head_stride + n0 * p.v_row_stride;
  const T* dout = static_cast<const T*>(p.dout) + b * p.do_batch_stride + h * p.do_head_stride;
  const float* lse = p.lse + static_cast<std::int64_t>(bh) * p.n_q;
  const float* delta = p.delta + static_cast<std::int64_t>(bh) * p.n_q;
  float* dq_accum = p.dq_accum + static_cast<std::int64_t>(bh) * p.n_q * p.d;
  const int rows_k = min(kBlockN, p.n_k - n0);
  const int m_blocks = (p.n_q + kBlockM - 1) / kBlockM;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const T* any = static_cast<const T*>(p.k);
  const float scale_log2 = p.scale * 1.4426950408889634f;

  const auto load_query_block = [&](int i, int buf) {
    const int m0 = i * kBlockM, rows = p.n_q - m0;
    load_tile<kBlockM, kHeadDim, kStride, kThreads>(
        sQ + buf * Traits::kSmemQ, q + m0 * p.q_row_stride, p.q_row_stride, rows, p.d, any);
    load_tile<kBlockM, kHeadDim, kStride, kThreads>(
        sdO + buf * Traits::kSmemQ, dout + m0 * p.do_row_stride, p.do_row_stride, rows, p.d, any);
    for (int r = threadIdx.x; r < kBlockM; r += kThreads) {
      const bool valid = r < rows;
      cp_async_4(smem_addr(sLse + buf * kBlockM + r), valid ? lse + m0 + r : p.lse, valid);
      cp_async_4(smem_addr(sD + buf * kBlockM + r), valid ? delta + m0 + r : p.delta, valid);
    }
  };

  load_tile<kBlockN, kHeadDim, kStride, kThreads>(sK, k, p.k_row_stride, rows_k, p.d, any);
  load_tile<kBlockN, kHeadDim, kStride, kThreads>(sV, v, p.v_row_stride, rows_k, p.d, any);
  load_query_block(0, 0);
  cp_async_commit();

  float dk[kDTiles][4], dv[kDTiles][4];
#pragma unroll
  for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
    for (int c = 0; c < 4; ++c) dk[dt][c] = dv[dt][c] = 0.f;

  const int key0 = warp * 16;  // this warp's keys within the block
  const bool key_lo_valid = key0 + quad < rows_k, key_hi_valid = key0 + quad + 8 < rows_k;

  for (int i = 0; i < m_blocks; ++i) {
    const int buf = i & 1, m0 = i * kBlockM;
    const T* sQb = sQ + buf * Traits::kSmemQ;
    const T* sdOb = sdO + buf * Traits::kSmemQ;
    const float* sLseb = sLse + buf * kBlockM;
    const float* sDb = sD + buf * kBlockM;
    cp_async_wait<0>();
    __syncthreads();  // block i landed; every warp is done with block i-1 (buffers and dS^T)
    if (i + 1 < m_blocks) load_query_block(i + 1, buf ^ 1);
    cp_async_commit();

    // S^T = K Q^T and dP^T = V dO^T, [16 keys of this warp, kBlockM queries].
    float st[kMTiles][4], dpt[kMTiles][4];
#pragma unroll
    for (int nt = 0; nt < kMTiles; ++nt)
#pragma unroll
      for (int c = 0; c < 4; ++c) st[nt][c] = dpt[nt][c] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      std::uint32_t ak[4], av[4];
      const int a_off = (key0 + lane % 16) * kStride + kk * 16 + (lane / 16) * 8;
      ldsm_x4(ak, smem_addr(sK + a_off));
      ldsm_x4(av, smem_addr(sV + a_off));
#pragma unroll
      for (int nt = 0; nt < kMTiles; nt += 2) {
        const int b_off =
            (nt * 8 + (lane / 16) * 8 + lane % 8) * kStride + kk * 16 + ((lane / 8) % 2) * 8;
        std::uint32_t bq[4], bo[4];
        ldsm_x4(bq, smem_addr(sQb + b_off));
        ldsm_x4(bo, smem_addr(sdOb + b_off));
        E::mma(st[nt], ak, bq[0], bq[1]);
        E::mma(st[nt + 1], ak, bq[2], bq[3]);
        E::mma(dpt[nt], av, bo[0], bo[1]);
        E::mma(dpt[nt + 1], av, bo[2], bo[3]);
      }
    }

    // P^T = exp(scale S^T - LSE) and dS^T = P^T (dP^T - D); keys past n_k and queries past n_q
    // get P = 0.
    // Only the last key block and the last query block need the masks.
    const bool masked = m0 + kBlockM > p.n_q || rows_k < kBlockN;
#pragma unroll
    for (int nt = 0; nt < kMTiles; ++nt) {
      const float2 lse2 = *reinterpret_cast<const float2*>(sLseb + nt * 8 + 2 * tq);
      const float2 d2 = *reinterpret_cast<const float2*>(sDb + nt * 8 + 2 * tq);
      const float l0 = lse2.x * 1.4426950408889634f, l1 = lse2.y * 1.4426950408889634f;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const float pr = fast_exp2(st[nt][c] * scale_log2 - ((c & 1) ? l1 : l0));
        st[nt][c] = pr;
        dpt[nt][c] = pr * (dpt[nt][c] - ((c & 1) ? d2.y : d2.x));
      }
    }
    if (masked) {
#pragma unroll
      for (int nt = 0; nt < kMTiles; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int col = nt * 8 + 2 * tq + (c & 1);
          if (!(c < 2 ? key_lo_valid : key_hi_valid) || m0 + col >= p.n_q)
            st[nt][c] = dpt[nt][c] = 0.f;
        }
    }

    // dV += P^T dO and dK += dS^T Q: A from registers, B = dO / Q [queries, d] via ldmatrix.trans.
#pragma unroll
    for (int kk = 0; kk < kBlockM / 16; ++kk) {
      std::uint32_t ap[4], as[4];
      ap[0] = E::pack(st[2 * kk][0], st[2 * kk][1]);
      ap[1] = E::pack(st[2 * kk][2], st[2 * kk][3]);
      ap[2] = E::pack(st[2 * kk + 1][0], st[2 * kk + 1][1]);
      ap[3] = E::pack(st[2 * kk + 1][2], st[2 * kk + 1][3]);
      as[0] = E::pack(dpt[2 * kk][0], dpt[2 * kk][1]);
      as[1] = E::pack(dpt[2 * kk][2], dpt[2 * kk][3]);
      as[2] = E::pack(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]);
      as[3] = E::pack(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3]);
      // dS^T to shared memory for dQ (rows quad and quad + 8 of this warp's keys).
      std::uint32_t* s_lo =
          reinterpret_cast<std::uint32_t*>(sdS + (key0 + quad) * kSStride + kk * 16 + 2 * tq);
      std::uint32_t* s_hi =
          reinterpret_cast<std::uint32_t*>(sdS + (key0 + quad + 8) * kSStride + kk * 16 + 2 * tq);
      s_lo[0] = as[0];
      s_hi[0] = as[1];
      s_lo[4] = as[2];
      s_hi[4] = as[3];
#pragma unroll
      for (int dt = 0; dt < kDTiles; dt += 2) {
        const int b_off =
            (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * kStride + dt * 8 + (lane / 16) * 8;
        std::uint32_t bo[4], bq[4];
        ldsm_x4_trans(bo, smem_addr(sdOb + b_off));
        ldsm_x4_trans(bq, smem_addr(sQb + b_off));
        E::mma(dv[dt], ap, bo[0], bo[1]);
        E::mma(dv[dt + 1], ap, bo[2], bo[3]);
        E::mma(dk[dt], as, bq[0], bq[1]);
        E::mma(dk[dt + 1], as, bq[2], bq[3]);
      }
    }
    __syncthreads();  // dS^T of every warp is in shared memory

    // dQ_i += dS K, [kBlockM, kHeadDim]: this warp's tiles, then fp32 atomics.
    {
      constexpr int kCols = Traits::kDqCols, kCTiles = kCols / 8;
      const int wm = warp % Traits::kDqWarpsM, wn = warp / Traits::kDqWarpsM;
      const int c0 = wn * kCols;
#pragma unroll
      for (int mi = 0; mi < Traits::kDqMTiles; ++mi) {
        const int r0 = (wm * Traits::kDqMTiles + mi) * 16;
        // Two accumulator sets, even and odd k-steps, for twice the independent mma chains.
        float dq2[2][kCTiles][4];
#pragma unroll
        for (int e = 0; e < 2; ++e)
#pragma unroll
          for (int ct = 0; ct < kCTiles; ++ct)
#pragma unroll
            for (int c = 0; c < 4; ++c) dq2[e][ct][c] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kBlockN / 16; ++kk) {
          std::uint32_t a[4];
          ldsm_x4_trans(a, smem_addr(sdS + (kk * 16 + (lane / 16) * 8 + lane % 8) * kSStride + r0 +
                                     ((lane / 8) % 2) * 8));
#pragma unroll
          for (int ct = 0; ct < kCTiles; ct += 2) {
            std::uint32_t bk[4];
            ldsm_x4_trans(bk, smem_addr(sK + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * kStride +
                                        c0 + ct * 8 + (lane / 16) * 8));
            E::mma(dq2[kk & 1][ct], a, bk[0], bk[1]);
            E::mma(dq2[kk & 1][ct + 1], a, bk[2], bk[3]);
          }
        }
        float dq[kCTiles][4];
#pragma unroll
        for (int ct = 0; ct < kCTiles; ++ct)
#pragma unroll
          for (int c = 0; c < 4; ++c) dq[ct][c] = dq2[0][ct][c] + dq2[1][ct][c];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int row = m0 + r0 + quad + 8 * r;
          if (row >= p.n_q) continue;
#pragma unroll
          for (int ct = 0; ct < kCTiles; ++ct) {
            const int col = c0 + ct * 8 + 2 * tq;
            if (col >= p.d) continue;
            float* dst = dq_accum + static_cast<std::int64_t>(row) * p.d + col;
#if __CUDA_ARCH__ >= 900
            atomicAdd(reinterpret_cast<float2*>(dst),
                      make_float2(dq[ct][2 * r], dq[ct][2 * r + 1]));
#else
            atomicAdd(dst, dq[ct][2 * r]);
            atomicAdd(dst + 1, dq[ct][2 * r + 1]);
#endif
          }
        }
      }
    }
  }

  // dK (times the score scale) and dV of this warp's 16 keys.
  T* dk_out = static_cast<T*>(p.dk) + (static_cast<std::int64_t>(bh) * p.n_k + n0) * p.d;
  T* dv_out = static_cast<T*>(p.dv) + (static_cast<std::int64_t>(bh) * p.n_k + n0) * p.d;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = key0 + quad + 8 * r;
    if (row >= rows_k) continue;
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt) {
      const int col = dt * 8 + 2 * tq;
      if (col >= p.d) continue;
      *reinterpret_cast<std::uint32_t*>(dk_out + static_cast<std::int64_t>(row) * p.d + col) =
          E::pack(dk[dt][2 * r] * p.scale, dk[dt][2 * r + 1] * p.scale);
      *reinterpret_cast<std::uint32_t*>(dv_out + static_cast<std::int64_t>(row) * p.d + col) =
          E::pack(dv[dt][2 * r], dv[dt][2 * r + 1]);
    }
  }
}

// The backward's three passes: D and the zeroed dQ accumulator, `main` (the kernel that
// accumulates dQ and writes dK, dV), then dQ scaled and cast. Empty inputs launch nothing.
template <class T, class Main>
cudaError_t launch_bwd_passes(const FlashBwdParams& p, cudaStream_t stream, Main main) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0 || p.n_k == 0) return cudaSuccess;
  if (bh > kMaxBatchHeads) return cudaErrorInvalidConfiguration;
  const std::int64_t rows = static_cast<std::int64_t>(bh) * p.n_q;
  constexpr int kPreThreads = 256;
  flash_bwd_preprocess_kernel<T>
      <<<static_cast<unsigned>((rows * 8 + kPreThreads - 1) / kPreThreads), kPreThreads, 0,
         stream>>>(p);
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) status = main();
  if (status != cudaSuccess) return status;
  flash_bwd_convert_dq_kernel<T><<<grid_stride_ctas(rows * p.d / 4, 256), 256, 0, stream>>>(p);
  return cudaGetLastError();
}

template <class Traits, class T>
cudaError_t launch_bwd(const FlashBwdParams& p, cudaStream_t stream) {
  return launch_bwd_passes<T>(p, stream, [&] {
    return launch_with_smem(
        flash_bwd_kernel<Traits, T>,
        dim3((p.n_k + Traits::kBlockN - 1) / Traits::kBlockN, p.batch * p.heads), Traits::kThreads,
        Traits::kSmemBytes, stream, p);
  });
}

// CTAs of `kernel` that fit on one SM at once.
template <class Kernel>
int resident_ctas(Kernel kernel, int threads, int smem_bytes) {
  int ctas = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&ctas, kernel, threads, smem_bytes) !=
      cudaSuccess) {
    cudaGetLastError();
    return 1;
  }
  return ctas > 0 ? ctas : 1;
}

// The share of the SM slots that the CTAs of a grid keep busy over its waves (1 = no tail).
inline double wave_efficiency(std::int64_t ctas, std::int64_t slots) {
  const std::int64_t waves = (ctas + slots - 1) / slots;
  return double(ctas) / double(waves * slots);
}

// Tile shapes per head dim (the version log has the numbers behind them). Head dim 64 has two: 128
// keys per CTA (the faster kernel) and 64 keys per CTA at 3 CTAs per SM, taken when the first
// would leave most of its last wave idle (e.g. N = 3136: 25 key blocks x 16 heads on 132 SMs).
template <int kHeadDim>
struct BwdConfig;
template <>
struct BwdConfig<32> {
  using Traits = BwdTraits<32, 64, 8, 2>;
  using Small = Traits;
};
template <>
struct BwdConfig<64> {
  using Traits = BwdTraits<64, 64, 8>;
  using Small = BwdTraits<64, 64, 4, 3>;
};
template <>
struct BwdConfig<128> {
  using Traits = BwdTraits<128, 32, 8>;
  using Small = Traits;
};

template <int kHeadDim, class T>
cudaError_t run_bwd_hdim(const FlashBwdParams& p, cudaStream_t stream) {
  using Big = typename BwdConfig<kHeadDim>::Traits;
  using Small = typename BwdConfig<kHeadDim>::Small;
  if constexpr (!std::is_same_v<Big, Small>) {
    static int sms = 0;
    if (sms == 0) {
      int device = 0;
      cudaGetDevice(&device);
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
      if (sms <= 0) sms = 1;
    }
    const std::int64_t bh = std::int64_t(p.batch) * p.heads;
    const auto blocks = [&](int n) { return (std::int64_t(p.n_k) + n - 1) / n * bh; };
    cudaFuncSetAttribute(flash_bwd_kernel<Small, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         Small::kSmemBytes);
    cudaFuncSetAttribute(flash_bwd_kernel<Big, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         Big::kSmemBytes);
    const int big_slots =
        sms * resident_ctas(flash_bwd_kernel<Big, T>, Big::kThreads, Big::kSmemBytes);
    const int small_slots =
        sms * resident_ctas(flash_bwd_kernel<Small, T>, Small::kThreads, Small::kSmemBytes);
    // Measured: the small tiles run about 0.92x as fast as the big ones on a full grid.
    if (0.92 * wave_efficiency(blocks(Small::kBlockN), small_slots) >
        wave_efficiency(blocks(Big::kBlockN), big_slots))
      return launch_bwd<Small, T>(p, stream);
  }
  return launch_bwd<Big, T>(p, stream);
}

}  // namespace latentcast::kernels::flash
