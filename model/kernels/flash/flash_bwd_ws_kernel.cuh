// The warp-specialised flash attention backward for Hopper (sm_90a), head dim 64, in the
// FlashAttention-2 scheme with the forward's machinery (flash_fwd_ws_kernel.cuh): one CTA per
// block of 64 x kConsumers keys of one (batch, head), K and V loaded once by TMA; a producer
// warpgroup streams (Q_i, dO_i) blocks of 64 queries through a ring of swizzled stages. Each
// consumer warpgroup owns 64 keys and, per query block, computes on the tensor cores (wgmma)
//   S^T = K Q_i^T and dP^T = V dO_i^T            (both operands in shared memory),
//   P^T = exp(scale S^T - LSE), dS^T = P^T (dP^T - D)   (registers),
//   dV += P^T dO_i and dK += dS^T Q_i             (P^T, dS^T from registers),
//   dQ_i += dS K                                  (dS^T through shared memory; the consumers
//                                                  split dQ's columns; added to the fp32
//                                                  accumulator by TMA reductions).
// The preprocessing (D = rowsum(dO O), dQ accumulator zeroed) and the dQ conversion are the
// mma.sync backward's (flash_bwd_kernel.cuh). Ref: Dao 2023, "FlashAttention-2", Algorithm 2;
// Shah et al. 2024, "FlashAttention-3".
//
// Version log (bf16, `latentcast-bench attention --device cuda --pass fwdbwd`, NVIDIA H200;
// the mma.sync backward's versions v1-v3 are in flash_bwd_kernel.cuh):
//   b4 2026-12-03  2 consumer warpgroups (128 keys), 64-query steps, 2 stages, everything of a
//                  step waited for within the step, LSE and D read from global memory by the
//                  consumers: (4,8,4096,64) 1.446 ms backward (238 TFLOP/s, 2.5x the forward's
//                  FLOPs) against the mma.sync backward's 1.569 in the same run, (1,8,16384,64)
//                  5.06 against 6.03, (2,8,3136,64) 0.521 against 0.527; 3 stages no faster.
//   b5 2026-12-03  the dQ product of step i issued at the start of step i+1, ahead of its S and
//                  dP products, and finished (atomics, stage release) while those run; LSE and
//                  D staged in shared memory by a producer warp; the first step peeled so that
//                  ptxas sees every accumulator read after its wait (with the step's branches in
//                  the loop it serialised the wgmma instructions: warnings C7514, C7515).
//                  Backward alone (model/kernels/lab): (4,8,4096,64) 1.068 ms (322 TFLOP/s) against
//                  the mma.sync backward's 1.568, (1,8,16384,64) 4.006 against 6.012, (2,8,3136,64)
//                  0.424 against 0.528; 3 stages 1.059 / 3.996 / 0.421 (within noise: 2 kept).
//                  Forward + backward with the w3 forward: 0.79-0.84x cuDNN at N >= 4096.
//   Racecheck (compute-sanitizer) reports b5's LSE and D staging as hazards (the producer warp's
//                  stores against the consumers' loads): it does not follow the mbarrier
//                  ordering between them (stores, then each lane's release-arrive on full; loads,
//                  then __syncwarp and an arrive on empty before the next overwrite). The
//                  racecheck tests therefore run the mma.sync kernels (tests/CMakeLists.txt).
//   Tried 2026-12-03 (next session): LSE and D by bulk copies (cp.async.bulk) with Q and dO.
//                  Gradients as before, but racecheck still reported hazards in the kernel, so it
//                  was not kept.
//   b6 2026-12-03 (third session)  dQ into the accumulator by TMA: each consumer stores its 64 x 32
//                  fp32 block of a step into shared memory (128-byte swizzle, three buffers), and
//                  one of its threads issues cp.reduce.async.bulk.tensor (the additions in the L2)
//                  instead of 16 float2 atomics per thread. Lab, whole backward (preprocessing
//                  and dQ conversion included), two H200s:
//                    (4,8,4096,64) / (1,8,16384,64) / (2,8,3136,64), ms
//                    b5 (atomics)                           1.069 / 4.013 / 0.424
//                    TMA, 2 buffers                         0.939 / 3.551 / 0.375
//                    TMA, 3 buffers (b6)                    0.933 / 3.520 / 0.373
//                    TMA issued by a producer warp          0.954 / 3.611 / 0.381
//                      (mbarriers between it and the consumers: the consumers never wait
//                       on a reduction, but 128 arrivals per consumer and step cost more)
//                  and on the other H200 (b5 1.039 / 3.893 / 0.411 there): TMA with 2 buffers
//                  0.912 / 3.451 / 0.363; each consumer over its own 64 keys into all 64 of
//                  dQ's columns (no barrier between the consumers, twice the reductions; dK from
//                  dS^T in shared memory to fit the registers) 0.943 / 3.439 / 0.363.
//                  Ablations there (wrong results, timing only): no dQ accumulation at all
//                  0.671 / 2.443 / 0.263, no dQ product either 0.661 / 2.400 / 0.259, no barrier
//                  between the consumers 1.006 / 3.762 / 0.397, no exp2 1.001 / 3.734 / 0.396:
//                  adding dQ to global memory is still the largest cost (0.26 ms of 0.91 at
//                  (4,8,4096,64)); the exp2 and the barrier are 3 % each. Doubling the
//                  reductions (own keys) cost little, so their number is not what limits. Not
//                  yet measured: all the CTAs of one (batch, head) add into the same dQ block at
//                  the same step, which the L2 may serialise. Next: a walk over the query blocks
//                  that starts at a different block per CTA, then fewer additions (two CTAs of a
//                  cluster adding theirs in shared memory first).
//   Tried 2026-12-03 (fourth session): that walk (CTA x of X starts at query block
//                  x * m_blocks / X and wraps around), in the lab against b6 in one run on an
//                  H200: 0.937 / 3.506 / 0.375 ms against 0.932 / 3.508 / 0.373. No change, so the
//                  CTAs meeting on one dQ block is not what the additions cost; not kept.
#pragma once

#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_bwd_kernel.cuh"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/flash/flash_tma.cuh"
#include "model/kernels/flash/flash_wgmma.cuh"

namespace latentcast::kernels::flash {

struct BwdTensorMaps {
  CUtensorMap q, k, v, dout, dq_accum;
};

// A step's dQ_i += dS_i K (each consumer: 32 of dQ's columns over all the CTA's keys) reaches the
// fp32 accumulator by TMA: the consumer stores it into shared memory (kDqBuffers buffers each),
// and after a barrier over its warpgroup one of its threads issues a reduction
// (cp.reduce.async.bulk.tensor: the additions happen in the L2).
template <int kStages_>
struct WsBwdTraits {
  static constexpr int kHeadDim = 64, kConsumers = 2, kStages = kStages_;
  static constexpr int kDqBuffers = 3;             // a reduction may still read the last two
  static constexpr int kBlockM = 64;               // queries per step
  static constexpr int kBlockN = 64 * kConsumers;  // keys per CTA
  static constexpr int kThreads = 128 * (kConsumers + 1);
  static constexpr int kDqCols = kHeadDim / kConsumers;  // dQ columns per consumer
  static constexpr int kRowBytes = kHeadDim * 2;
  static constexpr int kBytesQ = kBlockM * kRowBytes, kBytesKV = kBlockN * kRowBytes;
  static constexpr int kBytesS = kBlockN * kBlockM * 2;   // dS^T, [keys][queries]
  static constexpr int kBytesStats = 2 * kBlockM * 4;     // LSE (log2 units) and D of a step
  static constexpr int kBytesDq = kBlockM * kDqCols * 4;  // one consumer's dQ of a step, fp32
  static constexpr int kBytesDqBufs = kDqBuffers * kConsumers * kBytesDq;
  static constexpr int kSmemBytes = 1024 + 2 * kBytesKV + 2 * kStages * kBytesQ + 2 * kBytesS +
                                    kBytesDqBufs + kStages * kBytesStats;
  static constexpr int kProducerRegs = 24, kConsumerRegs = 240;
  static_assert(kDqCols == 32, "dQ is split in two n32 halves, 128-byte rows of fp32");
  static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * kConsumers <= 65536, "register file");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    flash_bwd_ws_kernel(const __grid_constant__ FlashBwdParams p,
                        const __grid_constant__ BwdTensorMaps maps) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using E = Elem<T>;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kStages = Traits::kStages;
  constexpr int kBytesQ = Traits::kBytesQ, kBytesKV = Traits::kBytesKV, kBytesS = Traits::kBytesS;
  constexpr int kRowBytes = Traits::kRowBytes, kConsumers = Traits::kConsumers;
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) std::uint64_t bars[1 + 2 * kStages];

  const std::uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const std::uint32_t sK = base, sV = sK + kBytesKV;
  const std::uint32_t sQ = sV + kBytesKV, sdO = sQ + kStages * kBytesQ;
  const std::uint32_t sS = sdO + kStages * kBytesQ;         // 2 buffers
  const std::uint32_t sDq = sS + 2 * kBytesS;               // kDqBuffers per consumer
  const std::uint32_t sStats = sDq + Traits::kBytesDqBufs;  // kStages x (LSE[64], D[64])
  float* stats = reinterpret_cast<float*>(smem_raw + (sStats - smem_addr(smem_raw)));
  const std::uint32_t bar_kv = smem_addr(&bars[0]);
  auto full = [&](int s) { return smem_addr(&bars[1 + s]); };
  auto empty = [&](int s) { return smem_addr(&bars[1 + kStages + s]); };

  const int n0 = blockIdx.x * kBlockN;
  const int b = blockIdx.y / p.heads, h = blockIdx.y % p.heads;
  const int m_blocks = (p.n_q + kBlockM - 1) / kBlockM;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    mbar_init(bar_kv, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full(s), 1 + 32);  // the copy thread and the 32 lanes that stage LSE and D
      mbar_init(empty(s), 4 * kConsumers);
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (wg == 0) {
    regs_release<Traits::kProducerRegs>();
    if (threadIdx.x == 0) {
      tma_prefetch_map(&maps.q);
      tma_prefetch_map(&maps.dout);
      mbar_arrive_expect_tx(bar_kv, 2 * kBytesKV);
      tma_load_4d(sK, &maps.k, 0, n0, h, b, bar_kv);
      tma_load_4d(sV, &maps.v, 0, n0, h, b, bar_kv);
      for (int i = 0; i < m_blocks; ++i) {
        const int s = i % kStages;
        mbar_wait(empty(s), ((i / kStages) & 1) ^ 1);
        mbar_arrive_expect_tx(full(s), 2 * kBytesQ);
        tma_load_4d(sQ + s * kBytesQ, &maps.q, 0, i * kBlockM, h, b, full(s));
        tma_load_4d(sdO + s * kBytesQ, &maps.dout, 0, i * kBlockM, h, b, full(s));
      }
    } else if (threadIdx.x >= 32 && threadIdx.x < 64) {
      // The second warp stages each step's LSE (times log2 e; +inf past n_q, so P = 0 there)
      // and D into shared memory.
      const int lane = threadIdx.x - 32;
      const float* lse_bh = p.lse + static_cast<std::int64_t>(blockIdx.y) * p.n_q;
      const float* delta_bh = p.delta + static_cast<std::int64_t>(blockIdx.y) * p.n_q;
      for (int i = 0; i < m_blocks; ++i) {
        const int s = i % kStages;
        mbar_wait(empty(s), ((i / kStages) & 1) ^ 1);
        float* st = stats + s * 2 * kBlockM;
#pragma unroll
        for (int e = 0; e < kBlockM / 32; ++e) {
          const int c = e * 32 + lane, col = i * kBlockM + c;
          st[c] = col < p.n_q ? lse_bh[col] * 1.4426950408889634f : INFINITY;
          st[kBlockM + c] = col < p.n_q ? delta_bh[col] : 0.f;
        }
        mbar_arrive(full(s));
      }
    }
    return;
  }

  regs_claim<Traits::kConsumerRegs>();
  const int cw = wg - 1;  // keys n0 + cw * 64 ...
  const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const std::uint32_t k_rows = sK + cw * 64 * kRowBytes, v_rows = sV + cw * 64 * kRowBytes;
  const float scale_log2 = p.scale * kLog2e;
  const std::int64_t bh = blockIdx.y;

  float dv[32], dk[32], dq[Traits::kDqCols / 2];
#pragma unroll
  for (int i = 0; i < 32; ++i) dv[i] = dk[i] = 0.f;

  // dQ_i[:, cw * 32 ...] = dS_i K[:, cw * 32 ...] over all the CTA's keys, issued at the start
  // of step i + 1 (ahead of its S and dP products) so that it is waited for in the same step.
  auto issue_dq = [&](int i) {
    const std::uint32_t s_tile = sS + (i & 1) * kBytesS;
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk)
      wgmma_ss_n32_tt<T>(dq, wgmma_desc_sw128(s_tile + kk * 2048, kBytesS, 1024),
                         wgmma_desc_sw128(sK + kk * 2048 + cw * 64, kBytesKV, 1024), kk > 0);
    wgmma_commit();
  };
  // dQ of step i (its matrix product waited for) into the fp32 accumulator; frees its stage.
  auto finish_dq = [&](int i) {
    __syncwarp();  // the warp's reads of the stage's LSE and D come before the release
    if (lane == 0) mbar_arrive(empty(i % kStages));
    // Into buffer i % kDqBuffers of this consumer in the 128-byte swizzle that the reduction
    // reads (rows of 32 floats; 16-byte chunk c of row r at c ^ (r % 8)), then one reduction.
    // The buffer's previous reduction (step i - kDqBuffers) finished reading before the barrier
    // of step i - 1.
    const std::uint32_t buf = sDq + ((i % Traits::kDqBuffers) * kConsumers + cw) * Traits::kBytesDq;
    unsigned char* b_ptr = smem_raw + (buf - smem_addr(smem_raw));
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int row = warp * 16 + quad + 8 * r, chunk = 2 * nt + tq / 2;
        *reinterpret_cast<float2*>(b_ptr + row * 128 + ((chunk ^ quad) * 16) + (tq & 1) * 8) =
            make_float2(dq[nt * 4 + 2 * r], dq[nt * 4 + 2 * r + 1]);
      }
    fence_proxy_async();
    if (threadIdx.x % 128 == 0) bulk_wait_read<Traits::kDqBuffers - 2>();
    named_barrier_sync<128>(2 + cw);
    if (threadIdx.x % 128 == 0) {
      tma_reduce_add_4d(&maps.dq_accum, buf, cw * Traits::kDqCols, i * kBlockM, h, b);
      bulk_commit();
    }
  };

  float st[32], dpt[32];
  // S^T = K Q_i^T and dP^T = V dO_i^T, two commit groups.
  auto issue_s_dp = [&](int i) {
    const std::uint32_t q_tile = sQ + (i % kStages) * kBytesQ;
    const std::uint32_t do_tile = sdO + (i % kStages) * kBytesQ;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      wgmma_ss_n64<T>(st, wgmma_desc_sw128(k_rows + kk * 32, 16, 1024),
                      wgmma_desc_sw128(q_tile + kk * 32, 16, 1024), kk > 0);
    wgmma_commit();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      wgmma_ss_n64<T>(dpt, wgmma_desc_sw128(v_rows + kk * 32, 16, 1024),
                      wgmma_desc_sw128(do_tile + kk * 32, 16, 1024), kk > 0);
    wgmma_commit();
  };
  // The rest of step i once its S and dP products are issued: P, dS, dV += P^T dO, dK +=
  // dS^T Q issued, dS^T staged for the dQ product.
  auto finish_step = [&](int i) {
    const int s = i % kStages;
    const std::uint32_t q_tile = sQ + s * kBytesQ, do_tile = sdO + s * kBytesQ;
    // LSE and D of this thread's query columns (column pairs), staged by the producer.
    const float* st_s = stats + s * 2 * kBlockM;
    float2 lse2[8], dd[8];
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      lse2[nt] = *reinterpret_cast<const float2*>(st_s + nt * 8 + 2 * tq);
      dd[nt] = *reinterpret_cast<const float2*>(st_s + kBlockM + nt * 8 + 2 * tq);
    }
    wgmma_wait<1>();
#pragma unroll
    for (int c = 0; c < 32; ++c)
      st[c] = fast_exp2(fmaf(st[c], scale_log2, (c & 1) ? -lse2[c / 4].y : -lse2[c / 4].x));
    wgmma_wait<0>();
#pragma unroll
    for (int c = 0; c < 32; ++c) dpt[c] = st[c] * (dpt[c] - ((c & 1) ? dd[c / 4].y : dd[c / 4].x));

    // P^T and dS^T as A operands (k = queries), then dV += P^T dO and dK += dS^T Q.
    std::uint32_t pa[4][4], dsa[4][4];
    accum_to_a<T>(st, pa);
    accum_to_a<T>(dpt, dsa);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      wgmma_rs_n64_tb<T>(dv, pa[kk], wgmma_desc_sw128(do_tile + kk * 2048, kBytesQ, 1024));
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      wgmma_rs_n64_tb<T>(dk, dsa[kk], wgmma_desc_sw128(q_tile + kk * 2048, kBytesQ, 1024));
    wgmma_commit();

    // dS^T into shared memory in the swizzle (key rows of 128 bytes), for dQ = dS K. Two
    // buffers: the other consumer may still read the previous step's.
    const std::uint32_t s_tile = sS + (i & 1) * kBytesS;
    unsigned char* s_ptr = smem_raw + (s_tile - smem_addr(smem_raw));
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = cw * 64 + warp * 16 + quad + 8 * r;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
        *reinterpret_cast<std::uint32_t*>(s_ptr + row * kRowBytes + ((nt ^ (row & 7)) * 16) +
                                          tq * 4) = dsa[nt / 2][(nt % 2) * 2 + r];
    }
    fence_proxy_async();
    named_barrier_sync<128 * kConsumers>(1);
  };

  mbar_wait(bar_kv, 0);
  mbar_wait(full(0), 0);
  wgmma_fence();
  issue_s_dp(0);
  finish_step(0);
  for (int i = 1; i < m_blocks; ++i) {
    mbar_wait(full(i % kStages), (i / kStages) & 1);
    wgmma_fence();
    // The previous step's dQ product goes first; once at most S and dP are pending, it and
    // that step's dV and dK are done, and its reduction is issued under S and dP.
    issue_dq(i - 1);
    issue_s_dp(i);
    wgmma_wait<2>();
    finish_dq(i - 1);
    finish_step(i);
  }
  wgmma_fence();
  issue_dq(m_blocks - 1);
  wgmma_wait<0>();
  finish_dq(m_blocks - 1);
  if (threadIdx.x % 128 == 0) bulk_wait<0>();  // before the CTA's shared memory goes

  // dK (times the softmax scale) and dV, contiguous [B, heads, n_k, d].
  T* dk_out = static_cast<T*>(p.dk) + bh * p.n_k * p.d;
  T* dv_out = static_cast<T*>(p.dv) + bh * p.n_k * p.d;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = n0 + cw * 64 + warp * 16 + quad + 8 * r;
    if (row >= p.n_k) continue;
#pragma unroll
    for (int dt = 0; dt < 8; ++dt) {
      const int col = dt * 8 + 2 * tq;
      if (col >= p.d) continue;
      *reinterpret_cast<std::uint32_t*>(dk_out + static_cast<std::int64_t>(row) * p.d + col) =
          E::pack(dk[dt * 4 + 2 * r] * p.scale, dk[dt * 4 + 2 * r + 1] * p.scale);
      *reinterpret_cast<std::uint32_t*>(dv_out + static_cast<std::int64_t>(row) * p.d + col) =
          E::pack(dv[dt * 4 + 2 * r], dv[dt * 4 + 2 * r + 1]);
    }
  }
#else
  __trap();  // built without sm_90a: flash_api.cu never launches it then
#endif
}

// cudaErrorNotSupported, with nothing launched, when the tensors cannot be described to TMA or
// the shape is an edge case (empty): the caller runs the mma.sync backward then.
template <class Traits, class T>
cudaError_t launch_bwd_ws(const FlashBwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || bh > kMaxBatchHeads || p.n_q == 0 || p.n_k == 0 || p.d > Traits::kHeadDim)
    return cudaErrorNotSupported;
  const Dtype dtype = dtype_of<T>();
  BwdTensorMaps maps;
  cudaError_t status =
      encode_tile_map(&maps.q, p.q, dtype, p.batch, p.heads, p.n_q, p.d, p.q_row_stride,
                      p.q_head_stride, p.q_batch_stride, Traits::kBlockM);
  if (status == cudaSuccess)
    status = encode_tile_map(&maps.dout, p.dout, dtype, p.batch, p.heads, p.n_q, p.d,
                             p.do_row_stride, p.do_head_stride, p.do_batch_stride, Traits::kBlockM);
  if (status == cudaSuccess)
    status = encode_tile_map(&maps.k, p.k, dtype, p.batch, p.heads, p.n_k, p.d, p.k_row_stride,
                             p.k_head_stride, p.k_batch_stride, Traits::kBlockN);
  if (status == cudaSuccess)
    status = encode_tile_map(&maps.v, p.v, dtype, p.batch, p.heads, p.n_k, p.d, p.v_row_stride,
                             p.v_head_stride, p.v_batch_stride, Traits::kBlockN);
  if (status == cudaSuccess)
    status = encode_f32_tile_map(&maps.dq_accum, p.dq_accum, p.batch, p.heads, p.n_q, p.d,
                                 Traits::kBlockM);
  if (status != cudaSuccess) return status;
  return launch_bwd_passes<T>(p, stream, [&] {
    return launch_with_smem(flash_bwd_ws_kernel<Traits, T>,
                            dim3((p.n_k + Traits::kBlockN - 1) / Traits::kBlockN, bh),
                            Traits::kThreads, Traits::kSmemBytes, stream, p, maps);
  });
}

template <int kHeadDim>
struct WsBwdConfig;
template <>
struct WsBwdConfig<64> {
  using Traits = WsBwdTraits<2>;
};

template <int kHeadDim, class T>
cudaError_t run_bwd_ws_hdim(const FlashBwdParams& p, cudaStream_t stream) {
  return launch_bwd_ws<typename WsBwdConfig<kHeadDim>::Traits, T>(p, stream);
}

}  // namespace latentcast::kernels::flash
