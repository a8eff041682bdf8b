// The sage attention forward kernel, after SageAttention (Zhang et al. 2024, "SageAttention:
// Accurate 8-bit attention for plug-and-play inference acceleration"; 2025, "SageAttention2"):
// Q and K come INT8 per 64-token block from the quantisation pass (sage_quant_kernel.cuh; K
// smoothed by its token mean, Q pre-scaled by softmax_scale log2(e)); S = Q K^T runs on the
// tensor cores as INT8 x INT8 -> INT32 (mma.sync m16n8k32 s8), is dequantised with the Q block's
// and K block's scales, and feeds the online softmax in float32 with exp2; P V runs in 16 bits
// (mma.sync m16n8k16, bf16 or fp16 as V) with float32 accumulators. One CTA per kBlockM queries of
// one (batch, head); K and V double-buffered by cp.async; the log-sum-exp (of the smoothed
// scores) written for the backward.
// INT32 -> float32 is an integer add and a float subtract (|dot| <= 127^2 d < 2^22, so
// 1.5 * 2^23 + dot is exact), not the quarter-rate I2F conversion.
//
// Backward (our design): straight-through over the quantisation, in 16 bits. The FlashAttention-2
// backward (model/kernels/flash/flash_bwd_kernel.cuh, unchanged) runs on the unquantised bf16/fp16
// Q, the smoothed K - mean_k (rounded to the 16-bit type; sage_cuda.cpp makes it from the saved
// mean), V, sage's output O and sage's log-sum-exp (that of the smoothed scores): it recomputes
// P = exp(scale q (k - mean_k)^T - LSE) in 16-bit tensor-core arithmetic, D = rowsum(dO * O),
// dS = P (dP - D), dQ = scale dS (K - mean_k), dK = scale dS^T Q, dV = P^T dO. Exact attention
// has the same gradients for K and K - mean_k (each row of dS sums to 0, and the scores of a row
// shift by one constant); with the recomputed P, whose rows sum to 1 only up to the INT8 error
// of the LSE, the rows of dS sum to that error instead of 0, and using the smoothed K keeps a
// large shared offset in K from multiplying it into dQ. The gradient is that of exact attention
// evaluated at sage's normaliser and output, which is what lets training with sage follow training
// with flash. An INT8 recomputation of S in the backward would save little: four of the backward's
// five matrix products are 16-bit either way (dV, dP, dQ, dK).
//
// Version log (bf16, `latentcast-bench attention --device cuda`, NVIDIA H200, PyTorch 2.11 +
// CUDA 13; TFLOP/s = 4 B H N^2 d / time, quantisation included; docs/benchmarks.md has the tables):
//   v1 2026-12-03  mma.sync s8 Q K^T, dequantise (I2F-free), float row max, exp2, P V; Q fragments
//                  kept in registers for the whole key loop; per warp 32 query rows (kBlockM 128,
//                  4 warps; 8 warps at head dim 128), kBlockN 64; 240 registers, 2 CTAs per SM.
//                  Forward (quantisation included) 271 / 298 / 200 / 75 / 190 TFLOP/s at
//                  (4,8,4096,64) / (1,8,16384,64) / (4,8,4096,32) / (16,4,784,32) / (2,8,3136,64),
//                  against our flash 294 / 300 / 213 / 102 / 213 and cuDNN 408 / 463 / 225 / 85 /
//                  270 in the same run: halving the Q K^T tensor-core work bought nothing, so that
//                  is not what bounds the kernel (the softmax's per-score instructions and the
//                  latency between a warp's dependent phases at 8 warps per SM are).
//   v2 2026-12-03  fewer instructions per score: the row maximum on the INT32 scores (integer
//                  max, one dequantising multiply per row), dequantisation folded into the exp2
//                  argument (one FFMA), conditional rescaling (FlashAttention-4's trick: O and the
//                  row sums are rescaled only when some row's maximum grows by more than 2^8).
//                  Backward on the smoothed K (v1's backward used the raw K with the smoothing
//                  added back to the LSE: a large shared offset in K amplified the recomputed P's
//                  error into dQ, cosine 0.97 in the offset test). Same run, same order of
//                  shapes: 269 / 312 / 177 / 65 / 184 (flash 285 / 303 / 197 / 95 / 205, cuDNN
//                  421 / 479 / 220 / 73 / 247): within the run-to-run spread of v1. Kept (fewer
//                  instructions, the same accuracy), but the instruction count is not the limit
//                  either.
//   v2 tile alternatives, same run, forward at the five shapes: (kBlockM 64, kBlockN 128, 4 warps)
//                  226 / 251 / 181 / 72 / 199; (128, 64, 8 warps; 151 registers, 1 CTA per SM)
//                  198 / 213 / 173 / 64 / 145; (64, 64, 4 warps; 167 registers, 3 CTAs per SM)
//                  239 / 264 / 182 / 78 / 221; (128, 64, 8 warps capped at 128 registers, 2 CTAs
//                  per SM) 268 / 301 / 179 / 65 / 184; (64, 64, 4 warps capped for 4 CTAs per SM)
//                  254 / 290 / 174 / 65 / 207. None beats v2's tiles on the full grids at head dim
//                  64: more warps per SM do not pay for re-reading K and V per 16 query rows.
//   On sm_90 head dim 64 now runs the warp-specialised kernel (sage_fwd_ws_kernel.cuh, its own
//   log). Next here (measured above, not yet in the dispatch): 64-row tiles at head dim 32 (182 vs
//   177, 78
//                  vs 65), and at head dim 64 where the 128-row grid leaves its last wave mostly
//                  idle ((2,8,3136,64): 221 vs 184), chosen per launch by wave efficiency as the
//                  flash backward does. Beyond that, the forward needs what cuDNN has: wgmma
//                  (s8 for Q K^T, bf16 or fp8 for P V) with TMA, warp specialisation and two
//                  consumer warpgroups whose softmax and matrix phases alternate (FlashAttention-3;
//                  SageAttention2's sm90 kernel).
#pragma once

#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/sage/sage.h"

namespace latentcast::kernels::sage {

template <int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_, int kMinBlocks_ = 1>
struct SageFwdTraits {
  static constexpr int kMinBlocks = kMinBlocks_;  // CTAs per SM asked of the compiler
  static constexpr int kHeadDim = kHeadDim_, kBlockM = kBlockM_, kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_, kThreads = 32 * kWarps;
  static constexpr int kMTiles = kBlockM / (16 * kWarps);  // 16-row query tiles per warp
  static constexpr int kNTiles = kBlockN / 8;              // 8-column tiles of S
  static constexpr int kDTiles = kHeadDim / 8;             // 8-column tiles of O
  static constexpr int kKSteps = kHeadDim / 32;            // k-steps of the INT8 Q K^T
  static constexpr int kKScales = kBlockN / kQuantBlock;   // K block scales per key block
  static constexpr int kNTilesPerScale = kQuantBlock / 8;  // S column tiles per K scale
  static constexpr int kStride8 = kHeadDim + 16;           // bytes per INT8 row in shared memory
  static constexpr int kStrideV = kHeadDim + 8;            // elements per 16-bit V / O row
  static constexpr int kSmemQ = kBlockM * kStride8;        // bytes
  static constexpr int kSmemK = kBlockN * kStride8;        // bytes, one buffer
  static constexpr int kSmemV = kBlockN * kStrideV * 2;    // bytes, one buffer
  static constexpr int kSmemLoop = kSmemQ + 2 * kSmemK + 2 * kSmemV;
  static constexpr int kSmemO = kBlockM * kStrideV * 2;  // O staged for 16-byte stores
  static constexpr int kSmemBytes = kSmemLoop > kSmemO ? kSmemLoop : kSmemO;
  static_assert(kHeadDim % 32 == 0 && kHeadDim <= 256,
                "head dim: a multiple of 32 (one s8 k-step), at most 256 (INT32 -> float trick)");
  static_assert(kBlockM % (16 * kWarps) == 0, "each warp owns whole 16-row query tiles");
  static_assert(kQuantBlock % 16 == 0, "a 16-row query tile lies in one quantisation block");
  static_assert(kBlockN % kQuantBlock == 0, "key blocks are whole quantisation blocks");
  static_assert(kBlockN % 16 == 0, "key blocks are whole k-steps of the P.V product");
  static_assert(kSmemQ % 16 == 0 && kSmemK % 16 == 0, "16-byte aligned shared-memory buffers");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

// c += a (16x32 INT8, row) * b (32x8 INT8, col), INT32 accumulators.
__device__ __forceinline__ void mma_s8(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                       std::uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// |INT32 score| < 127^2 * 256 < kIntScoreLimit = 2^22 - 1: the range int_to_float is exact on.
constexpr int kIntScoreLimit = (1 << 22) - 1;
// log2 of the largest unnormalised P the conditional rescaling lets through (P <= 256: exact range
// for bf16 and fp16 alike, and sums far from float32 overflow).
constexpr float kRescaleThreshold = 8.0f;

// Exact for |x| < 2^22: the bits of 1.5 * 2^23 + x as a float, minus 1.5 * 2^23.
__device__ __forceinline__ float int_to_float(int x) {
  return __int_as_float(x + 0x4B400000) - 12582912.0f;
}

// kRows rows of kHeadDim INT8 values (a contiguous [rows, kHeadDim] matrix) into shared memory
// with row stride kStride bytes; rows at and past `rows` are zero-filled.
template <int kRows, int kHeadDim, int kStride, int kThreads>
__device__ __forceinline__ void load_tile_s8(std::int8_t* smem, const std::int8_t* gmem, int rows,
                                             const std::int8_t* any_valid) {
  constexpr int kChunksPerRow = kHeadDim / 16;
  constexpr int kChunks = kRows * kChunksPerRow;
#pragma unroll
  for (int i = 0; i < (kChunks + kThreads - 1) / kThreads; ++i) {
    const int c = i * kThreads + static_cast<int>(threadIdx.x);
    if (kChunks % kThreads == 0 || c < kChunks) {
      const int row = c / kChunksPerRow, col = (c % kChunksPerRow) * 16;
      const bool valid = row < rows;
      const std::int8_t* src = valid ? gmem + row * kHeadDim + col : any_valid;
      flash::cp_async_16(flash::smem_addr(smem + row * kStride + col), src, valid);
    }
  }
}

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks)
    sage_fwd_kernel(const SageFwdParams p) {
  using E = flash::Elem<T>;
  using flash::ldsm_x4;
  using flash::smem_addr;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kHeadDim = Traits::kHeadDim;
  constexpr int kStride8 = Traits::kStride8, kStrideV = Traits::kStrideV;
  constexpr int kThreads = Traits::kThreads, kMTiles = Traits::kMTiles;
  constexpr int kNTiles = Traits::kNTiles, kDTiles = Traits::kDTiles, kKSteps = Traits::kKSteps;
  constexpr int kNTilesPerScale = Traits::kNTilesPerScale;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  std::int8_t* sQ = reinterpret_cast<std::int8_t*>(smem_raw);
  std::int8_t* sK = sQ + Traits::kSmemQ;                                         // 2 buffers
  T* sV = reinterpret_cast<T*>(smem_raw + Traits::kSmemQ + 2 * Traits::kSmemK);  // 2 buffers
  constexpr int kVElems = Traits::kSmemV / 2;

  const int m0 = blockIdx.x * kBlockM;
  const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads;
  const std::int8_t* q8 = p.q8 + (static_cast<std::int64_t>(bh) * p.n_q + m0) * kHeadDim;
  const std::int8_t* k8 = p.k8 + static_cast<std::int64_t>(bh) * p.n_k * kHeadDim;
  const T* v = static_cast<const T*>(p.v) + b * p.v_batch_stride + h * p.v_head_stride;
  const int q_blocks = (p.n_q + kQuantBlock - 1) / kQuantBlock;
  const int k_blocks = (p.n_k + kQuantBlock - 1) / kQuantBlock;
  const float* q_scales = p.q_scales + static_cast<std::int64_t>(bh) * q_blocks;
  const float* k_scales = p.k_scales + static_cast<std::int64_t>(bh) * k_blocks;
  const int rows_q = min(kBlockM, p.n_q - m0);
  const int n_blocks = (p.n_k + kBlockN - 1) / kBlockN;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const int warp_row0 = warp * kMTiles * 16;

  load_tile_s8<kBlockM, kHeadDim, kStride8, kThreads>(sQ, q8, rows_q, p.k8);
  load_tile_s8<kBlockN, kHeadDim, kStride8, kThreads>(sK, k8, p.n_k, p.k8);
  flash::cp_async_commit();
  flash::load_tile<kBlockN, kHeadDim, kStrideV, kThreads>(sV, v, p.v_row_stride, p.n_k, p.d,
                                                          static_cast<const T*>(p.v));
  flash::cp_async_commit();

  // The Q block scale of each of this warp's 16-row tiles (rows past n_q use the last block's).
  float q_scale[kMTiles];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt)
    q_scale[mt] = q_scales[min((m0 + warp_row0 + mt * 16) / kQuantBlock, q_blocks - 1)];

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
  std::uint32_t qf[kMTiles][kKSteps][4];  // this warp's Q fragments, loaded once

  for (int j = 0; j < n_blocks; ++j) {
    const int buf = j & 1;
    const std::int8_t* sKb = sK + buf * Traits::kSmemK;
    const T* sVb = sV + buf * kVElems;
    float k_scale[Traits::kKScales];
#pragma unroll
    for (int i = 0; i < Traits::kKScales; ++i)
      k_scale[i] = k_scales[min(j * Traits::kKScales + i, k_blocks - 1)];
    flash::cp_async_wait<1>();  // K_j (and Q) landed; V_j may still be in flight
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk)
          ldsm_x4(qf[mt][kk], smem_addr(sQ + (warp_row0 + mt * 16 + lane % 16) * kStride8 +
                                        kk * 32 + (lane / 16) * 16));
    }

    // S = Q K_j^T in INT32.
    int acc[kMTiles][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[mt][nt][c] = 0;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
      for (int nt = 0; nt < kNTiles; nt += 2) {
        std::uint32_t bf[4];
        ldsm_x4(bf, smem_addr(sKb + (nt * 8 + (lane / 16) * 8 + lane % 8) * kStride8 + kk * 32 +
                              ((lane / 8) % 2) * 16));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          mma_s8(acc[mt][nt], qf[mt][kk], bf[0], bf[1]);
          mma_s8(acc[mt][nt + 1], qf[mt][kk], bf[2], bf[3]);
        }
      }
    }

    // Prefetch K_{j+1} into the other buffer (every warp is past its S of block j-1).
    if (j + 1 < n_blocks)
      load_tile_s8<kBlockN, kHeadDim, kStride8, kThreads>(
          sK + (buf ^ 1) * Traits::kSmemK,
          k8 + static_cast<std::int64_t>(j + 1) * kBlockN * kHeadDim, p.n_k - (j + 1) * kBlockN,
          p.k8);
    flash::cp_async_commit();

    // Keys past n_k (the last block only) get the smallest INT32 score the float trick takes: it
    // never wins a row maximum (every block holds a valid key); their P is set to 0 below.
    const bool tail = (j + 1) * kBlockN > p.n_k;
    if (tail) {
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c)
          if (j * kBlockN + nt * 8 + 2 * tq + (c & 1) >= p.n_k)
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) acc[mt][nt][c] = -kIntScoreLimit;
    }

    // Online softmax in the exp2 domain (Q carried softmax_scale log2(e)); rows quad (c = 0, 1)
    // and quad + 8 (c = 2, 3) of each tile, a row's columns over the 4 lanes of a quad. The row
    // maximum is taken on the INT32 scores of each K scale group (the scales are positive), and
    // dequantisation folds into the exp2 argument: p = exp2(float(acc) * scale - max).
    float sc[kMTiles][Traits::kKScales];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int g = 0; g < Traits::kKScales; ++g) sc[mt][g] = q_scale[mt] * k_scale[g];
    bool rescale = false;
    float block_max[kMTiles][2];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int g = 0; g < Traits::kKScales; ++g) {
          int im = -kIntScoreLimit;
#pragma unroll
          for (int nt = g * kNTilesPerScale; nt < (g + 1) * kNTilesPerScale; ++nt)
            im = max(im, max(acc[mt][nt][2 * r], acc[mt][nt][2 * r + 1]));
          im = max(im, __shfl_xor_sync(0xffffffffu, im, 1));
          im = max(im, __shfl_xor_sync(0xffffffffu, im, 2));
          mx = fmaxf(mx, int_to_float(im) * sc[mt][g]);
        }
        block_max[mt][r] = mx;
        rescale |= mx > row_max[mt][r] + kRescaleThreshold;
      }
    // Conditional rescaling (a warp-uniform branch): the running maximum moves only when a row's
    // block maximum passes it by more than kRescaleThreshold, so P stays <= 2^threshold and most
    // blocks skip the exp2 of the correction and the multiply of every O and sum register.
    if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const float mx = fmaxf(row_max[mt][r], block_max[mt][r]);
          const float corr = flash::fast_exp2(row_max[mt][r] - mx);
          row_max[mt][r] = mx;
          row_sum[mt][r] *= corr;
#pragma unroll
          for (int dt = 0; dt < kDTiles; ++dt) {
            o[mt][dt][2 * r] *= corr;
            o[mt][dt][2 * r + 1] *= corr;
          }
        }
    }
    float s[kMTiles][kNTiles][4];  // P, unnormalised
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int c = 2 * r; c < 2 * r + 2; ++c) {
            float pr = flash::fast_exp2(
                fmaf(int_to_float(acc[mt][nt][c]), sc[mt][nt / kNTilesPerScale], -row_max[mt][r]));
            if (tail && j * kBlockN + nt * 8 + 2 * tq + (c & 1) >= p.n_k) pr = 0.f;
            s[mt][nt][c] = pr;
            sum += pr;
          }
        row_sum[mt][r] += sum;
      }

    flash::cp_async_wait<1>();  // V_j landed; K_{j+1} may still be in flight
    __syncthreads();

    // O += P V_j in 16 bits, P from the S registers (C layout of two 8-column tiles = A layout of
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
        flash::ldsm_x4_trans(
            bf, smem_addr(sVb + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * kStrideV + dt * 8 +
                          (lane / 16) * 8));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          E::mma(o[mt][dt], a[mt], bf[0], bf[1]);
          E::mma(o[mt][dt + 1], a[mt], bf[2], bf[3]);
        }
      }
    }

    if (j + 1 < n_blocks)
      flash::load_tile<kBlockN, kHeadDim, kStrideV, kThreads>(
          sV + (buf ^ 1) * kVElems, v + (j + 1) * kBlockN * p.v_row_stride, p.v_row_stride,
          p.n_k - (j + 1) * kBlockN, p.d, static_cast<const T*>(p.v));
    flash::cp_async_commit();
  }
  flash::cp_async_wait<0>();
  __syncthreads();  // every warp is done with the K and V buffers that O is staged over

  // Normalise, write the natural log-sum-exp of the smoothed scores, stage O in shared memory and
  // store 16 bytes per thread.
  T* sO = reinterpret_cast<T*>(smem_raw);
  float* lse = p.lse + static_cast<std::int64_t>(bh) * p.n_q + m0;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = row_sum[mt][r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = 1.f / sum;
      const int row = warp_row0 + mt * 16 + quad + 8 * r;
      if (tq == 0 && row < rows_q) lse[row] = (row_max[mt][r] + __log2f(sum)) * 0.6931471805599453f;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt)
        *reinterpret_cast<std::uint32_t*>(sO + row * kStrideV + dt * 8 + 2 * tq) =
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
          *reinterpret_cast<const uint4*>(sO + row * kStrideV + col);
  }
}

template <class Traits, class T>
cudaError_t launch_fwd(const SageFwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0) return cudaSuccess;
  if (bh > flash::kMaxBatchHeads || p.n_k == 0) return cudaErrorInvalidConfiguration;
  return flash::launch_with_smem(sage_fwd_kernel<Traits, T>,
                                 dim3((p.n_q + Traits::kBlockM - 1) / Traits::kBlockM, bh),
                                 Traits::kThreads, Traits::kSmemBytes, stream, p);
}

// Tile shapes per head dim (the version log has the numbers behind them).
template <int kHeadDim>
struct SageFwdConfig;
template <>
struct SageFwdConfig<32> {
  using Traits = SageFwdTraits<32, 128, 64, 4>;
};
template <>
struct SageFwdConfig<64> {
  using Traits = SageFwdTraits<64, 128, 64, 4>;
};
template <>
struct SageFwdConfig<128> {
  using Traits = SageFwdTraits<128, 128, 64, 8>;
};

template <int kHeadDim, class T>
cudaError_t run_fwd_hdim(const SageFwdParams& p, cudaStream_t stream) {
  return launch_fwd<typename SageFwdConfig<kHeadDim>::Traits, T>(p, stream);
}

}  // namespace latentcast::kernels::sage
