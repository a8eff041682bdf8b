// The warp-specialised sage forward for Hopper (sm_90a), head dims 64 and 32: the structure of the
// flash one (model/kernels/flash/flash_fwd_ws_kernel.cuh: a producer warpgroup streaming tiles
// through TMA into swizzled stages counted on mbarriers, consumer warpgroups of 64 query rows,
// softmax of block j overlapped with P V of block j-1), with S = Q K^T on the INT8 tensor cores:
// wgmma m64nNk32 s8 x s8 -> s32 over the quantised Q and K (64-byte rows in the 64-byte swizzle),
// dequantised with the Q block's and the K block's scales inside the exp2 argument
// (sage_fwd_kernel.cuh explains the quantisation, the integer-to-float trick and the backward).
// Head dims up to 32 run the same tiles with P V over 32 columns (w5).
// The dispatched tiles (w4): four consumer warpgroups (256 query rows a tile) over 64-key blocks,
// three stages, lazy rescaling and P's row sums on the tensor cores, one persistent CTA an SM
// (SageWsTraits below). Per score the softmax is then an integer maximum, an integer add, one
// FMA, the exp2 and half a pack: at head dim 64 the exp2 unit's rate is about the tensor cores'
// rate for a score's share of both products, so every other instruction per score shows.
//
// Version log (bf16, NVIDIA H200, PyTorch 2.11 + CUDA 13; TFLOP/s = 4 B H N^2 d / time; kernel
// lab: model/kernels/lab/run, CUDA events; "+q" includes the quantisation pass):
//   w1 2026-12-03  3 consumers, kBlockN 128, 2 stages (the flash w3 tiles). Same output as the
//                  mma.sync sage kernel on the same INT8 inputs (max |dO| / max |O| <= 5.8e-3,
//                  LSE within 2e-6). At (4,8,4096,64) / (1,8,16384,64) / (2,8,3136,64): +q 323 /
//                  362 / 227 against the mma.sync kernel's 290 / 315 / 212; alone 352 / 372 /
//                  256, the flash w3 forward 439 / 473 / 319.
//   w2 2026-12-03  (a) the integer-to-float trick folded into the exp2 FMA (bits of
//                  1.5 * 2^23 + acc times the scale, minus 1.5 * 2^23 times the scale and the
//                  maximum): alone 352 -> 363-380 / 372 -> 384-400 / 256 -> 266-276 (three runs).
//                  (b) row sums on the tensor cores (P V as m64n72 over V and a block of ones):
//                  380 -> 426 / 400 -> 455 / 276 -> 308. (c) 64-key blocks and four consumer
//                  warpgroups of 112 registers (more warps to overlap the softmax with the
//                  products; one K scale a block): 426 -> 454 / 455 -> 455 / 308 -> 340; 2 stages
//                  429 / 446 / 317, 4 stages 447 / 457 / 336. (d) lazy rescaling (the running
//                  maximum moves only past kRescaleThreshold, as in the mma.sync kernel), same
//                  run as (c)'s 453 / 454 / 340: 452 / 480 / 340; with 128-key blocks it lost
//                  (431 -> 400). Final, one run: alone 452 / 482 / 340, +q 416 / 472 / 304; the
//                  quantisation pass 36 / 34 / 17 us -> 33 / 30 / 16 (the K mean's loads
//                  unrolled, 4 rows a thread) -> 26 / 24 / 14 (a multiply for the division). The
//                  flash w3 forward alone in the lab that day: 439 / 474 / 317, so the sage kernel
//                  alone passes it by 2-7 %; with its quantisation it is at 0.95-1.00x.
//                  Tried and dropped: (e) FlashAttention-4's exp2 on the FMA units (a degree-3
//                  polynomial) for one n8 tile in 4 or 8: +1-4 % with 128-key blocks, -4 to -8 %
//                  on w2. (f) FP8 P V (SageAttention2: e4m3 wgmma, V per channel to 448 / max|v|,
//                  transposed by the quantisation pass with the keys in the P fragments' order):
//                  alone 405 with 128-key blocks, 437 / 475 / 322 on w2's tiles (not above w2), and
//                  a relative L1 of 3.6-3.8e-2 from the 16-bit P V kernel on random inputs, over
//                  the issue's 0.03 against exact attention (which also asks for a 16-bit P V).
//   Measured 2026-12-03 (fourth session), to see what bounds w2 (H200, one run each):
//                  (g) the issue rates of the softmax's instructions
//                  (model/kernels/lab/pipes_lab.cu: one 1024-thread CTA per SM, 8 independent
//                  chains a thread), per clock and SM: ex2.approx.f32 16, ex2.approx.f16x2 and
//                  .bf16x2 16 elements (8 instructions: the packed forms buy nothing),
//                  cvt.rn.bf16x2.f32 64, cvt.rn.f32.s32 64, max.s32 64, max.f32 64, fma.f32 122; a
//                  degree-3 polynomial exp2 on the FMA pipe 12.6, mixed 1 in 4 with ex2 21; w2's
//                  per-score mix (integer max, add, FMA, exp2, half a pack) 14.8. So the exp2 unit
//                  is the only pipe near its limit, and only if the softmax ran alone. (h)
//                  Ablations in the kernel lab (lab-only patch, wrong results, timing only),
//                  (4,8,4096,64) / (1,8,16384,64) / (2,8,3136,64), us: w2 303 / 1139 / 118; no exp2
//                  266 / 1020 / 104; no row maximum 271 / 1025 / 106; no P packing 262 / 1018 /
//                  101; no Q K^T 192 / 707 / 76; no P V 134 / 464 / 53. At (4,8,4096,64) (4 waves
//                  of 64 steps of 16384 scores a CTA) and 1.98 GHz, a step without P V takes about
//                  1040 clocks, the exp2 unit's bound (1024), and about 2340 with it. The per-score
//                  instructions each cost 10-13 %; what bounds w2 is the wait on the P V products,
//                  which the softmax of the other consumer warpgroups does not fill.
//   w3 2026-12-03  (fourth session) the consumers issue their products in turn (the ring of named
//                  barriers in flash::ws_consume), so that one's softmax overlaps the others'
//                  products. Lab, alone, two rounds in one run: 304 / 1139 / 119 -> 297 / 1114 /
//                  114-115 us (1.02x / 1.02x / 1.04x); with the quantisation 329 / 1168 / 138 ->
//                  323 / 1148 / 134-135. `latentcast-bench attention` (sage and cuDNN forward,
//                  two rounds in one run), w3 against w3 with the row sums on the FADDs (lazy
//                  rescaling kept): 0.347 / 0.338 against 0.356 / 0.351 ms at (4,8,4096,64),
//                  1.186 / 1.157 against 1.235 / 1.207 at (1,8,16384,64); the latter also failed
//                  test_sage_gpu, so SageWsTraits now rejects that combination.
//   w4 2026-12-03  (fifth session) a persistent grid: one CTA an SM, tiles round-robin, the next
//                  tile's K_0 / V_0 and Q loaded while the last one's final products and its
//                  epilogue run (KvRing::produce and flash::ws_consume take the tile's round). Lab,
//                  one run, "alone" and "+q" (with the quantisation pass), us at (4,8,4096,64) /
//                  (1,8,16384,64) / (2,8,3136,64), two rounds each:
//                    w3 (n64c4s3LR)     alone 297-299 / 1122-1123 / 115-117, +q 324-325 /
//                                       1147-1150 / 130-132
//                    w4 (n64c4s3LRP)    alone 292-293 / 1121-1122 / 114-115, +q 320 / 1145-1146 /
//                                       128-130
//                    n64c4s4LRP         alone 294-295 / 1131-1145 / 115-116
//                  The other tiles with the ring, same run (alone, first round): row sums on the
//                  FADDs without lazy rescaling (n64c4s3) 329 / 1232 / 128, tensor row sums
//                  without it (n64c4s3R) 316 / 1186 / 124, four stages (n64c4s4LR) 300 / 1132 /
//                  116, 128-key blocks (n128c3s2R, n128c3s2LR) 316-317 / 1188-1190 / 127. So lazy
//                  rescaling with tensor row sums stays. The FADD row sums won for flash w5 but
//                  lose here; a guess, not measured: sage's integer maximum and float-trick add
//                  already take the issue slots the FADDs would need.
//                  Tried the same session and dropped (lab, two rounds each):
//                  (i) Q quantised inside the kernel (each consumer warpgroup its 64 rows from the
//                  16-bit Q into the 64-byte swizzle; the pass then covers K alone, 15-16 us
//                  instead of 26 at (4,8,4096,64)): +q 322-323 / 1137-1143 / 126 against w3's
//                  321-322 / 1143-1144 / 126, as the kernel alone lost what the pass saved (306
//                  against 298-299 at (4,8,4096,64): the quantisation sits in every CTA's
//                  prologue, before its first Q K^T). (ii) Programmatic dependent launches (the
//                  quantisation kernel after the mean, the attention kernel after the
//                  quantisation): +q 325-326 / 1141-1147 / 129-130 against 321-323 / 1137-1144 /
//                  126 without, so slower at two shapes and no faster at the third.
//   w5 2026-12-03  (sixth session) head dims up to 32 on their own tiles (kHeadDim 32; before,
//                  the mma.sync kernel ran them): the INT8 rows stay 64 bytes (padded with zeros by
//                  the pass), Q K^T reads their first 32, P V is m64n40 over 32-column V tiles in
//                  the 64-byte swizzle and the ones. Lab, two rounds, at (4,8,4096,32) /
//                  (16,4,784,32): alone 0.265 / 0.033 ms against the mma.sync kernel's 0.330 /
//                  0.039 and the head dim 64 tiles' 0.285 / 0.035 on the same padded rows; with the
//                  clusters' pass 0.287 / 0.049 against 0.350 / 0.049. `latentcast-bench attention`
//                  the same day: forward 0.287 ms at (4,8,4096,32) against cuDNN's 0.295 (1.03x;
//                  0.83x with the mma.sync kernel). Tried the same session and dropped: Q K^T one
//                  key block ahead (flash::ws_consume with two S accumulators, 2 or 3 consumers):
//                  0.440-0.506 ms alone at (4,8,4096,64), as ptxas serialises every wgmma (remark
//                  C7513: the rescaled O and the packed P are written with a Q K^T in flight).
#pragma once

#include <algorithm>
#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/flash/flash_fwd_ws_kernel.cuh"
#include "model/kernels/flash/flash_tma.cuh"
#include "model/kernels/flash/flash_wgmma.cuh"
#include "model/kernels/sage/sage.h"
#include "model/kernels/sage/sage_fwd_kernel.cuh"

namespace latentcast::kernels::sage {

struct SageTensorMaps {
  CUtensorMap q8, k8, v;
};

// kLazyRescale_: the running maximum moves only when a block's maximum passes it by more than
// kRescaleThreshold (as in the mma.sync kernel), so most blocks skip rescaling O.
// kTensorRowSum_: P's row sums on the tensor cores instead of one FADD per score: P V runs as
// m64n72 over V and 8 more columns of ones (a block of 1.0 per stage, kOnesOffset past its V
// tile, reached through the descriptor's leading offset), so O's columns 64..71 carry the sums,
// rescaled with O.
// kPersistent_: one CTA per SM, each taking tiles (kBlockM query rows of one batch and head)
// round-robin, so that a tile's epilogue overlaps the next one's first copies and the set-up is
// paid once per SM.
// kHeadDim_: 64, or 32 for head dims up to 32: the INT8 rows stay 64 bytes (the pass pads them
// with zeros), Q K^T reads their first 32, and P V runs as m64n40 over 32-column V tiles in the
// 64-byte swizzle and the ones (row sums on the tensor cores only).
template <int kStages_, int kBlockN_, int kConsumers_, bool kLazyRescale_, bool kTensorRowSum_,
          bool kPersistent_ = false, int kHeadDim_ = 64>
struct SageWsTraits {
  static constexpr int kHeadDim = kHeadDim_, kBlockN = kBlockN_, kConsumers = kConsumers_;
  static constexpr int kStages = kStages_;
  static constexpr bool kLazyRescale = kLazyRescale_, kTensorRowSum = kTensorRowSum_;
  static constexpr bool kPersistent = kPersistent_;
  static constexpr int kOValues = kHeadDim / 2 + (kTensorRowSum ? 4 : 0);
  static constexpr int kQkSteps = kHeadDim / 32;  // k32 steps of Q K^T over the 64-byte rows
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kThreads = 128 * (kConsumers + 1);
  static constexpr int kNTiles = kBlockN / 8, kDTiles = kHeadDim / 8;
  static constexpr int kScaleGroups = kBlockN / kQuantBlock;              // K scales per key block
  static constexpr int kBytesQ8 = kBlockM * 64, kBytesK8 = kBlockN * 64;  // 64-byte INT8 rows
  static constexpr int kBytesV = kBlockN * kHeadDim * 2;
  static constexpr int kOnesOffset = kStages * kBytesV;  // V stage s -> its block of ones
  static constexpr int kSmemBytes =
      1024 + kBytesQ8 + kStages * (kBytesK8 + kBytesV * (kTensorRowSum ? 2 : 1));
  static constexpr int kProducerRegs = flash::kWsProducerRegs;
  static constexpr int kConsumerRegs = flash::ws_consumer_regs(kConsumers);
  static_assert(kBlockN == 64 || kBlockN == 128, "wgmma n64 or n128 for Q K^T");
  static_assert(kBlockN % kQuantBlock == 0, "whole K scale groups per key block");
  static_assert(kHeadDim == 64 || (kHeadDim == 32 && kTensorRowSum),
                "head dim 64, or 32 with the row sums on the tensor cores");
  static_assert(kBlockM <= 256, "one TMA box of Q rows");
  static_assert(kConsumerRegs <= 256, "setmaxnreg's ceiling");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
  // Lazy rescaling with the row sums on the FADDs failed test_sage_gpu when dispatched (w3's run,
  // 2026-12-03; not investigated, and slower than with the row sums on the tensor cores).
  static_assert(!kLazyRescale || kTensorRowSum, "lazy rescaling only with tensor row sums");
};

// d (64 x 128, INT32) (+)= A (64 x 32 INT8, shared memory, K-major) * B (32 x 128 INT8, shared
// memory, K-major).
__device__ __forceinline__ void wgmma_s8_n128(int (&d)[64], std::uint64_t desc_a,
                                              std::uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 " LATENTCAST_WGMMA_D64
      ", %64, %65, p;\n}\n"
      : LATENTCAST_WGMMA_ACC64("+r", d)
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d (64 x 64, INT32) (+)= A (64 x 32 INT8) * B (32 x 64 INT8), both in shared memory, K-major.
__device__ __forceinline__ void wgmma_s8_n64(int (&d)[32], std::uint64_t desc_a,
                                             std::uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 " LATENTCAST_WGMMA_D32 ", %32, %33, p;\n}\n"
      : LATENTCAST_WGMMA_ACC32("+r", d)
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    sage_fwd_ws_kernel(const __grid_constant__ SageFwdParams p,
                       const __grid_constant__ SageTensorMaps maps) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using namespace flash;
  using E = Elem<T>;
  constexpr int kBlockN = Traits::kBlockN, kBlockM = Traits::kBlockM, kStages = Traits::kStages;
  constexpr int kNTiles = Traits::kNTiles, kDTiles = Traits::kDTiles;
  constexpr int kBytesQ8 = Traits::kBytesQ8, kBytesK8 = Traits::kBytesK8;
  constexpr int kBytesV = Traits::kBytesV;
  extern __shared__ unsigned char smem_raw[];
  __shared__ KvRing<kStages> ring;

  const std::uint32_t sV = (smem_addr(smem_raw) + 1023u) & ~1023u;  // 128-byte swizzle: 1024
  const std::uint32_t sK =                                          // 64-byte swizzle: 512
      sV + kStages * kBytesV * (Traits::kTensorRowSum ? 2 : 1);
  const std::uint32_t sQ = sK + kStages * kBytesK8;

  // Tile t: query rows (t % m_tiles) kBlockM ... of batch-head t / m_tiles; this CTA's are
  // blockIdx.x, + gridDim.x, ... (one of them unless persistent).
  const int m_tiles = (p.n_q + kBlockM - 1) / kBlockM, tiles = m_tiles * p.batch * p.heads;
  const int n_blocks = (p.n_k + kBlockN - 1) / kBlockN;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) ring.init(4 * Traits::kConsumers);
  if constexpr (Traits::kTensorRowSum)
    flash::fill_ones<T, Traits::kThreads>(
        smem_raw + (sV + Traits::kOnesOffset - smem_addr(smem_raw)), Traits::kOnesOffset);
  __syncthreads();

  if (wg == 0) {  // the producer: one thread issues every copy
    regs_release<Traits::kProducerRegs>();
    if (threadIdx.x == 0)
      for (int t = blockIdx.x, round = 0; t < tiles; t += gridDim.x, ++round) {
        const int bh = t / m_tiles;
        ring.produce(&maps.q8, sQ, kBytesQ8, (t % m_tiles) * kBlockM, &maps.k8, sK, kBytesK8,
                     &maps.v, sV, kBytesV, kBlockN, n_blocks, bh % p.heads, bh / p.heads, round);
      }
    return;
  }

  regs_claim<Traits::kConsumerRegs>();
  const int cw = wg - 1;
  const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const std::uint32_t q_rows = sQ + cw * 64 * 64;
  const int q_blocks = (p.n_q + kQuantBlock - 1) / kQuantBlock;
  const int k_blocks = (p.n_k + kQuantBlock - 1) / kQuantBlock;
  for (int t = blockIdx.x, round = 0; t < tiles; t += gridDim.x, ++round) {
    const int m0 = (t % m_tiles) * kBlockM;
    const int bh = t / m_tiles, b = bh / p.heads, h = bh % p.heads;
    const float* k_scales = p.k_scales + static_cast<std::int64_t>(bh) * k_blocks;
    // Rows past n_q (a whole consumer's, in a batch-head's last tile) use the last block's scale.
    const float q_scale = p.q_scales[static_cast<std::int64_t>(bh) * q_blocks +
                                     min((m0 + cw * 64) / kQuantBlock, q_blocks - 1)];
    auto k_scale = [&](int j, int g) {
      return k_scales[min(j * Traits::kScaleGroups + g, k_blocks - 1)];
    };

    float o[Traits::kOValues];
#pragma unroll
    for (int i = 0; i < Traits::kOValues; ++i) o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
    int acc[kNTiles * 4];
    float s[kNTiles * 4];
    std::uint32_t pa[kBlockN / 16][4];

    // The key blocks' scales, read when the block's Q K^T is issued (in block order), so that
    // their load runs under the matrix product.
    constexpr int kGroups = Traits::kScaleGroups, kGroupTiles = kQuantBlock / 8;
    int qk_block = 0;
    float ks[kGroups];
    auto issue_qk = [&](int stage) {
#pragma unroll
      for (int g = 0; g < kGroups; ++g) ks[g] = k_scale(qk_block, g);
      ++qk_block;
      const std::uint32_t k_tile = sK + stage * kBytesK8;
#pragma unroll
      for (int kk = 0; kk < Traits::kQkSteps; ++kk) {
        const std::uint64_t da = wgmma_desc_sw64(q_rows + kk * 32);
        const std::uint64_t db = wgmma_desc_sw64(k_tile + kk * 32);
        if constexpr (kBlockN == 128)
          wgmma_s8_n128(acc, da, db, kk > 0);
        else
          wgmma_s8_n64(acc, da, db, kk > 0);
      }
      wgmma_commit();
    };
    auto issue_pv = [&](int stage) {
      const std::uint32_t v_tile = sV + stage * kBytesV;
      if constexpr (Traits::kTensorRowSum) {
        flash::issue_pv_rowsum<T, Traits::kHeadDim>(o, pa, v_tile, Traits::kOnesOffset);
      } else {
        flash::issue_pv_sw128<T>(o, pa, v_tile, kBytesV);
      }
    };
    // Online softmax in the exp2 domain on the INT32 scores of block j (Q carried softmax_scale
    // log2(e)): the row maximum per K scale group on the integers, dequantisation folded into the
    // exp2 argument. Keys past n_k (the last block) never win a maximum and get P = 0.
    // The integer-to-float trick folds into the exp2 argument: bits(1.5 * 2^23 + acc) as a float is
    // 12582912 + acc exactly, so p = exp2(that * sc - (mx + 12582912 sc)), one FMA.
    auto softmax = [&](int j, float(&corr)[2]) {
      float sc[kGroups];
#pragma unroll
      for (int g = 0; g < kGroups; ++g) sc[g] = q_scale * ks[g];
      const bool tail = (j + 1) * kBlockN > p.n_k;
      if (tail) {
#pragma unroll
        for (int i = 0; i < kNTiles * 4; ++i)
          if (j * kBlockN + (i / 4) * 8 + 2 * tq + (i & 1) >= p.n_k) acc[i] = -kIntScoreLimit;
      }
      float block_max[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int g = 0; g < kGroups; ++g) {
          int im = -kIntScoreLimit;
#pragma unroll
          for (int nt = g * kGroupTiles; nt < (g + 1) * kGroupTiles; ++nt)
            im = max(im, max(acc[nt * 4 + 2 * r], acc[nt * 4 + 2 * r + 1]));
          im = max(im, __shfl_xor_sync(0xffffffffu, im, 1));
          im = max(im, __shfl_xor_sync(0xffffffffu, im, 2));
          mx = fmaxf(mx, int_to_float(im) * sc[g]);
        }
        block_max[r] = mx;
      }
      bool rescale = true;
      if constexpr (Traits::kLazyRescale)
        rescale = __any_sync(0xffffffffu, block_max[0] > row_max[0] + kRescaleThreshold ||
                                              block_max[1] > row_max[1] + kRescaleThreshold);
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        if (rescale) {
          const float mx = fmaxf(row_max[r], block_max[r]);
          corr[r] = fast_exp2(row_max[r] - mx);
          row_max[r] = mx;
        }
        const float mx = row_max[r];
        float bias[kGroups];
#pragma unroll
        for (int g = 0; g < kGroups; ++g) bias[g] = -fmaf(12582912.f, sc[g], mx);
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int i = nt * 4 + 2 * r + e;
            const float x = fmaf(__int_as_float(acc[i] + 0x4B400000), sc[nt / kGroupTiles],
                                 bias[nt / kGroupTiles]);
            float pr = fast_exp2(x);
            if (tail && j * kBlockN + nt * 8 + 2 * tq + e >= p.n_k) pr = 0.f;
            s[i] = pr;
            if constexpr (!Traits::kTensorRowSum) sum += pr;
          }
        if constexpr (!Traits::kTensorRowSum)
          row_sum[r] = (rescale ? row_sum[r] * corr[r] : row_sum[r]) + sum;
      }
      return rescale;
    };
    flash::ws_consume<Traits::kConsumers>(
        ring, n_blocks, o, issue_qk, issue_pv, softmax, [&] { accum_to_a<T>(s, pa); }, round);

    // Epilogue: O / rowsum straight to global memory (4-byte stores; the Q rows are too small to
    // stage 16-bit O), the natural-log LSE of the smoothed scores.
    const int row0 = m0 + cw * 64;
    const int rows = min(64, p.n_q - row0);
    float* lse = p.lse + static_cast<std::int64_t>(bh) * p.n_q + row0;
    T* out = static_cast<T*>(p.o) + b * p.o_batch_stride + h * p.o_head_stride +
             static_cast<std::int64_t>(row0) * p.o_row_stride;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = flash::row_total<Traits::kTensorRowSum>(o, row_sum, r);
      const float inv = 1.f / sum;
      const int row = warp * 16 + quad + 8 * r;
      if (row >= rows) continue;
      if (tq == 0) lse[row] = (row_max[r] + __log2f(sum)) * 0.6931471805599453f;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        const int col = dt * 8 + 2 * tq;
        if (col < p.d)
          *reinterpret_cast<std::uint32_t*>(out + row * p.o_row_stride + col) =
              E::pack(o[dt * 4 + 2 * r] * inv, o[dt * 4 + 2 * r + 1] * inv);
      }
    }
  }  // tiles
#else
  __trap();  // built without sm_90a: sage_api.cu never launches it then
#endif
}

// cudaErrorNotSupported, with nothing launched, when the tensors cannot be described to TMA (the
// caller runs the mma.sync kernel then).
template <class Traits, class T>
cudaError_t launch_fwd_ws(const SageFwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0) return cudaSuccess;
  if (bh > flash::kMaxBatchHeads || p.n_k == 0 || p.d > Traits::kHeadDim)
    return cudaErrorNotSupported;
  const flash::Dtype dtype = flash::dtype_of<T>();
  SageTensorMaps maps;
  cudaError_t status =
      flash::encode_int8_tile_map(&maps.q8, p.q8, p.batch, p.heads, p.n_q, Traits::kBlockM);
  if (status == cudaSuccess)
    status = flash::encode_int8_tile_map(&maps.k8, p.k8, p.batch, p.heads, p.n_k, Traits::kBlockN);
  if (status == cudaSuccess)
    status = flash::encode_tile_map(&maps.v, p.v, dtype, p.batch, p.heads, p.n_k, p.d,
                                    p.v_row_stride, p.v_head_stride, p.v_batch_stride,
                                    Traits::kBlockN, Traits::kHeadDim);
  if (status != cudaSuccess) return status;
  const std::int64_t tiles =
      static_cast<std::int64_t>((p.n_q + Traits::kBlockM - 1) / Traits::kBlockM) * bh;
  if (tiles > std::int64_t(1) << 30) return cudaErrorNotSupported;
  int ctas = static_cast<int>(tiles);
  if constexpr (Traits::kPersistent) {  // one CTA an SM (its shared memory and registers)
    int device = 0, sms = 0;
    cudaError_t st = cudaGetDevice(&device);
    if (st == cudaSuccess)
      st = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (st != cudaSuccess) return st;
    ctas = std::min(ctas, sms);
  }
  return flash::launch_with_smem(sage_fwd_ws_kernel<Traits, T>, dim3(ctas), Traits::kThreads,
                                 Traits::kSmemBytes, stream, p, maps);
}

template <int kHeadDim, class T>
cudaError_t run_fwd_ws_hdim(const SageFwdParams& p, cudaStream_t stream) {
  static_assert(kHeadDim == 64 || kHeadDim == 32, "the Hopper sage forward takes 32 or 64");
  return launch_fwd_ws<SageWsTraits<3, 64, 4, true, true, true, kHeadDim>, T>(p, stream);
}

}  // namespace latentcast::kernels::sage
