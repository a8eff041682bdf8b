// The warp-specialised flash attention forward for Hopper (sm_90a), head dim 64: one producer
// warpgroup whose single thread streams Q once and K, V block after block through TMA into a ring
// of 128-byte-swizzled shared-memory stages, counted on mbarriers; kConsumers consumer warpgroups,
// 64 query rows each, computing S = Q K^T and O += P V with wgmma while the next block's copies
// are in flight. Each consumer overlaps its softmax of block j with its own P V of block j-1 on
// the tensor cores, and consumers are tied to each other only through the stage barriers, so one
// warpgroup's softmax runs under another's matrix products. Registers move from the producer to
// the consumers (setmaxnreg). Ref: Shah et al. 2024, "FlashAttention-3" (warp specialisation,
// intra-warpgroup overlap); Dao 2023, "FlashAttention-2" (the online softmax).
//
// Version log (bf16, NVIDIA H200, PyTorch 2.11 + CUDA 13; TFLOP/s = 4 B H N^2 d / time; the
// earlier wgmma versions w1 and w2 are in flash_fwd_wgmma_kernel.cuh):
//   w3 2026-12-03  this kernel: TMA + mbarrier ring, producer warpgroup, intra-warpgroup overlap
//                  of softmax(S_j) with P_{j-1} V_{j-1}, O staged in the swizzle through the
//                  consumer's own Q rows. Correct first time against an fp32 reference and the
//                  mma.sync kernel (N = 1, 17, 1000, 4097; head dim 40 padded). Tile variants in
//                  one run (model/kernels/lab, CUDA events, forward alone) at (4,8,4096,64) /
//                  (1,8,16384,64) / (2,8,3136,64), against the mma.sync kernel's 301 / 306 / 227
//                  and SDPA cuDNN's 474 / 492 / 299 (PyTorch, same machine): kBlockN 128 with 3
//                  consumers and 2 stages 436 / 470 / 317 (kept); 3 stages 414 / 452 / 301; 4
//                  stages 415 / 449 / 306; 2 consumers (kBlockM 128), 2 stages 370 / 390 / 272, 3
//                  stages 376 / 397 / 275; kBlockN 64 with 4 stages, 2 consumers 355 / 372 / 275,
//                  3 consumers 378 / 390 / 287. Three consumers hide each other's softmax under
//                  their matrix products; a deeper ring only costs residency. In
//                  `latentcast-bench attention` (same run as SDPA): 0.94-1.07x cuDNN forward
//                  (docs/benchmarks.md).
//   w4 2026-12-03  (next session) sage w2's changes (sage_fwd_ws_kernel.cuh): P's row sums on the
//                  tensor cores (P V as m64n72 over V and a block of ones, no FADD per score),
//                  64-key blocks with four consumer warpgroups (112 registers), 3 stages. Lab, one
//                  run, alone: w3 439 / 477 / 322 -> 468 / 468 / 349 (kept); row sums alone on w3's
//                  tiles 458 / 494 / 341; 64-key blocks, 4 consumers without them 446 / 455 / 338;
//                  4 stages 468 / 468 / 352. The LSE now carries the sum of the bf16-rounded P:
//                  within 2^-9 relative of the fp32 sum (1.0e-3 at N = 17 against an fp32
//                  reference, 1.6e-4 at N = 4097), and O's numerator and denominator now use the
//                  same P. `ctest -L gpu` passed on it; `latentcast-bench attention`: 0.99x /
//                  0.96x / 1.21x cuDNN forward (docs/benchmarks.md, "Flash w4").
//   w5 2026-12-03  (fourth session) the consumers issue their products in turn (ws_consume's ring
//                  of named barriers, after FlashAttention-3's scheduler barriers; sage's lab
//                  ablations showed the consumers idling on the P V products), and the row sums
//                  back on the FADDs, which now win. Lab, two rounds in one run on an H200, ms at
//                  (4,8,4096,64) / (1,8,16384,64) / (2,8,3136,64), without -> with the ring:
//                    n64 c4 s3 R (w4)    0.296 / 1.181 / 0.116 -> 0.286 / 1.099 / 0.112
//                    n64 c4 s3 (w5)      0.310 / 1.217 / 0.121 -> 0.283 / 1.083 / 0.110
//                    n128 c3 s2 R        0.301 / 1.120 / 0.119 -> 0.296 / 1.115 / 0.119
//                    n128 c2 s2 R        0.329 / 1.228 / 0.131 -> 0.339 / 1.276 / 0.135
//                  so w5 against w4: 1.05x / 1.09x / 1.05x (two consumers keep no ring).
//   Next: the persistent grid of sage's w4 (sage_fwd_ws_kernel.cuh: 1.00-1.02x for sage's
//   kernel alone). ws_consume releases Q (empty_q) after the last Q K^T, before the epilogue;
//   this epilogue stages O in its Q rows, so a persistent flash must release Q after it.
#pragma once

#include <cmath>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/flash/flash_tma.cuh"
#include "model/kernels/flash/flash_wgmma.cuh"

namespace latentcast::kernels::flash {

// kTensorRowSum_: P's row sums on the tensor cores (issue_pv_rowsum) instead of an FADD per
// score, with a block of ones per V stage, kOnesOffset past it.
template <int kBlockN_, int kConsumers_, int kStages_, bool kTensorRowSum_ = false>
struct WsFwdTraits {
  static constexpr int kHeadDim = 64;  // one 128-byte swizzle atom per row
  static constexpr int kBlockN = kBlockN_, kConsumers = kConsumers_, kStages = kStages_;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kThreads = 128 * (kConsumers + 1);
  static constexpr int kNTiles = kBlockN / 8, kDTiles = kHeadDim / 8;
  static constexpr int kRowBytes = kHeadDim * 2;
  static constexpr int kBytesQ = kBlockM * kRowBytes, kBytesKV = kBlockN * kRowBytes;
  static constexpr bool kTensorRowSum = kTensorRowSum_;
  static constexpr int kOValues = kTensorRowSum ? 36 : 32;
  static constexpr int kOnesOffset = kStages * kBytesKV;  // V stage s -> its block of ones
  static constexpr int kSmemBytes =                       // 1024: alignment
      1024 + kBytesQ + (kTensorRowSum ? 3 : 2) * kStages * kBytesKV;
  static constexpr int kProducerRegs = kWsProducerRegs;
  static constexpr int kConsumerRegs = ws_consumer_regs(kConsumers);
  static_assert(kConsumers >= 2 && kConsumers <= 4, "2 to 4 consumer warpgroups");
  static_assert(kBlockN == 64 || kBlockN == 128, "wgmma shapes are instantiated for n = 64, 128");
  static_assert(kStages >= 2, "at least double-buffered");
  static_assert(kConsumerRegs <= 256, "setmaxnreg's ceiling");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

// O (64 x 64, fp32) += P (registers, k16 slices) V, issued as one commit group (not waited for);
// V a [keys, 64] tile in the 128-byte swizzle, MN-major for this product: a k16 step is 2 atoms.
template <class T, int kKSteps>
__device__ __forceinline__ void issue_pv_sw128(float (&o)[32],
                                               const std::uint32_t (&pa)[kKSteps][4],
                                               std::uint32_t v_tile, std::uint32_t v_bytes) {
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk)
    wgmma_rs_n64_tb<T>(o, pa[kk], wgmma_desc_sw128(v_tile + kk * 2048, v_bytes, 1024));
  wgmma_commit();
}

// The same with P's row sums on the tensor cores (FlashAttention's FADD per score moved into the
// product): m64n(d + 8) over V and 8 columns of a block of ones `ones_offset` bytes past the V
// tile (the descriptor's leading offset: the next column block of an MN-major B), so
// o[d / 2 + 2 r] carries the row sum of row quad + 8 r, every column alike. Head dim 64: V a
// [keys, 64] tile in the 128-byte swizzle (a k16 step is 2 atoms of 1024 bytes), m64n72; head
// dim 32: a [keys, 32] tile in the 64-byte swizzle (2 atoms of 512 bytes), m64n40.
template <class T, int kHeadDim, int kKSteps>
__device__ __forceinline__ void issue_pv_rowsum(float (&o)[kHeadDim / 2 + 4],
                                                const std::uint32_t (&pa)[kKSteps][4],
                                                std::uint32_t v_tile, std::uint32_t ones_offset) {
  static_assert(kHeadDim == 64 || kHeadDim == 32, "P V with row sums at head dims 64 and 32");
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk) {
    if constexpr (kHeadDim == 64)
      wgmma_rs_n72_tb<T>(o, pa[kk], wgmma_desc_sw128(v_tile + kk * 2048, ones_offset, 1024));
    else
      wgmma_rs_n40_tb<T>(o, pa[kk], wgmma_desc_sw64_mn(v_tile + kk * 1024, ones_offset, 512));
  }
  wgmma_commit();
}

// `bytes` of 16-bit 1.0 at `dst` (shared memory) by kThreads threads, made visible to wgmma
// (the async proxy); the caller synchronises the CTA before the first product reads them.
template <class T, int kThreads>
__device__ __forceinline__ void fill_ones(unsigned char* dst, int bytes) {
  const std::uint32_t one2 = Elem<T>::pack(1.f, 1.f);
  for (int i = threadIdx.x; i < bytes / 16; i += kThreads)
    reinterpret_cast<uint4*>(dst)[i] = make_uint4(one2, one2, one2, one2);
  fence_proxy_async();
}

// Row r's (quad or quad + 8) softmax denominator at the end, in every lane of its quad: from the
// row-sum columns of O (issue_pv_rowsum) or from the lane's partial sums reduced over the
// quad.
template <bool kTensorRowSum, int kOValues>
__device__ __forceinline__ float row_total(const float (&o)[kOValues], const float (&row_sum)[2],
                                           int r) {
  if constexpr (kTensorRowSum) {
    static_assert(kOValues == 36 || kOValues == 20, "the row sums follow O's 32 or 16 values");
    return o[kOValues - 4 + 2 * r];
  } else {
    float sum = row_sum[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    return sum + __shfl_xor_sync(0xffffffffu, sum, 2);
  }
}

// The consumer side of the ring, shared by the flash and sage forwards: for every key block j,
// S_j = Q K_j^T and P_{j-1} V_{j-1} issued, the softmax of S_j while the latter runs on the
// tensor cores, then O (fp32 accumulators, 4 per 8-column tile) rescaled and P_j packed as
// the next P V's A operand; the last P V at the end. `issue_qk(stage)` and `issue_pv(stage)`
// commit one wgmma group each; `softmax(j, corr)` exponentiates S_j in place, sets the factors
// that rescale the rows accumulated so far and returns whether to apply them (false: all 1, a
// warp-uniform answer); `pack()` packs P_j.
// With three or more consumers they issue their products in turn (as FlashAttention-3's
// scheduler barriers do): consumer c waits on named barrier kTurnBarrier + c, issues, and
// arrives on c + 1's, so their tensor-core work interleaves and their softmaxes spread out over
// the step. Without the ring they wait on the same stages and so run in step: all softmaxes at
// once on the shared exp2 unit, then all waiting on the tensor cores. Two consumers lost by it
// (lab, flash n128 c2: 0.329 -> 0.339 ms at (4,8,4096,64)).
// round: as for KvRing::produce (a persistent CTA's tiles); each consumer warp releases Q
// (empty_q) once its last Q K^T is done.
constexpr int kTurnBarrier = 8;  // named barriers 8 .. 8 + consumers - 1 (the epilogue uses 1 .. 4)
template <int kConsumers, int kStages, int kOValues, class IssueQK, class IssuePV, class Softmax,
          class Pack>
__device__ __forceinline__ void ws_consume(const KvRing<kStages>& ring, int n_blocks,
                                           float (&o)[kOValues], IssueQK issue_qk, IssuePV issue_pv,
                                           Softmax softmax, Pack pack, int round = 0) {
  constexpr bool kTurns = kConsumers >= 3;
  const bool signals = threadIdx.x % 32 == 0;  // one release per consumer warp
  const int cw = static_cast<int>(threadIdx.x / 128) - 1;
  // Every consumer takes n_blocks + 1 turns; the last one's last arrival is left out, as no
  // turn follows it.
  auto turn_wait = [&] {
    if constexpr (kTurns) named_barrier_sync<256>(kTurnBarrier + cw);
  };
  auto turn_pass = [&](bool last) {
    if constexpr (kTurns)
      if (!last || cw != kConsumers - 1)
        named_barrier_arrive<256>(kTurnBarrier + (cw + 1) % kConsumers);
  };
  if constexpr (kTurns)
    if (cw == kConsumers - 1) named_barrier_arrive<256>(kTurnBarrier);  // consumer 0 starts
  const auto stage = [&](int j) { return ring.stage_of(round * n_blocks + j); };
  const auto parity = [&](int j) { return ring.use_parity(round * n_blocks + j); };
  mbar_wait(ring.q(), round & 1);
  {
    mbar_wait(ring.full_k(stage(0)), parity(0));
    turn_wait();
    wgmma_fence();
    issue_qk(stage(0));
    turn_pass(false);
    wgmma_wait<0>();
    if (signals) mbar_arrive(ring.empty_k(stage(0)));
    if (signals && n_blocks == 1) mbar_arrive(ring.empty_q());
    float corr[2];
    softmax(0, corr);  // nothing accumulated yet
    pack();
  }
  for (int j = 1; j < n_blocks; ++j) {
    const int sk = stage(j), sv = stage(j - 1);
    mbar_wait(ring.full_k(sk), parity(j));
    mbar_wait(ring.full_v(sv), parity(j - 1));
    turn_wait();
    wgmma_fence();  // O rescaled and P packed by this thread since the last matrix products
    issue_qk(sk);
    issue_pv(sv);
    turn_pass(false);
    wgmma_wait<1>();  // S_j is ready; P_{j-1} V_{j-1} may still run
    if (signals) mbar_arrive(ring.empty_k(sk));
    if (signals && j == n_blocks - 1) mbar_arrive(ring.empty_q());
    float corr[2];
    const bool rescale = softmax(j, corr);
    wgmma_wait<0>();
    if (signals) mbar_arrive(ring.empty_v(sv));
    if (rescale) {
#pragma unroll
      for (int dt = 0; dt < kOValues / 4; ++dt) {
        o[dt * 4 + 0] *= corr[0];
        o[dt * 4 + 1] *= corr[0];
        o[dt * 4 + 2] *= corr[1];
        o[dt * 4 + 3] *= corr[1];
      }
    }
    pack();
  }
  const int sv = stage(n_blocks - 1);
  mbar_wait(ring.full_v(sv), parity(n_blocks - 1));
  turn_wait();
  wgmma_fence();
  issue_pv(sv);
  turn_pass(true);
  wgmma_wait<0>();
  if (signals) mbar_arrive(ring.empty_v(sv));
}

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    flash_fwd_ws_kernel(const __grid_constant__ FlashFwdParams p,
                        const __grid_constant__ FwdTensorMaps maps) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using E = Elem<T>;
  constexpr int kBlockN = Traits::kBlockN, kBlockM = Traits::kBlockM, kStages = Traits::kStages;
  constexpr int kNTiles = Traits::kNTiles, kDTiles = Traits::kDTiles;
  constexpr int kBytesQ = Traits::kBytesQ, kBytesKV = Traits::kBytesKV;
  constexpr int kRowBytes = Traits::kRowBytes;
  extern __shared__ unsigned char smem_raw[];
  __shared__ KvRing<kStages> ring;

  const std::uint32_t sQ = (smem_addr(smem_raw) + 1023u) & ~1023u;  // swizzle atoms: 1024-aligned
  const std::uint32_t sK = sQ + kBytesQ, sV = sK + kStages * kBytesKV;

  const int m0 = blockIdx.x * kBlockM;
  const int b = blockIdx.y / p.heads, h = blockIdx.y % p.heads;
  const int n_blocks = (p.n_k + kBlockN - 1) / kBlockN;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) ring.init(4 * Traits::kConsumers);
  if constexpr (Traits::kTensorRowSum)
    fill_ones<T, Traits::kThreads>(smem_raw + (sV + Traits::kOnesOffset - smem_addr(smem_raw)),
                                   Traits::kOnesOffset);
  __syncthreads();

  if (wg == 0) {  // the producer: one thread issues every copy
    regs_release<Traits::kProducerRegs>();
    if (threadIdx.x == 0)
      ring.produce(&maps.q, sQ, kBytesQ, m0, &maps.k, sK, kBytesKV, &maps.v, sV, kBytesKV, kBlockN,
                   n_blocks, h, b);
    return;
  }

  regs_claim<Traits::kConsumerRegs>();
  const int cw = wg - 1;  // this consumer's 64 rows: cw * 64 ...
  const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int quad = lane / 4, tq = lane % 4;
  const std::uint32_t q_rows = sQ + cw * 64 * kRowBytes;
  const float scale_log2 = p.scale * 1.4426950408889634f;

  float o[Traits::kOValues];
#pragma unroll
  for (int i = 0; i < Traits::kOValues; ++i) o[i] = 0.f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
  float s[kNTiles * 4];
  std::uint32_t pa[kBlockN / 16][4];

  // S = Q K_j^T, issued (not waited for).
  auto issue_qk = [&](int stage) {
    const std::uint32_t k_tile = sK + stage * kBytesKV;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const std::uint64_t da = wgmma_desc_sw128(q_rows + kk * 32, 16, 1024);
      const std::uint64_t db = wgmma_desc_sw128(k_tile + kk * 32, 16, 1024);
      if constexpr (kBlockN == 128)
        wgmma_ss_n128<T>(s, da, db, kk > 0);
      else
        wgmma_ss_n64<T>(s, da, db, kk > 0);
    }
    wgmma_commit();
  };
  auto issue_pv = [&](int stage) {
    if constexpr (Traits::kTensorRowSum)
      issue_pv_rowsum<T, 64>(o, pa, sV + stage * kBytesKV, Traits::kOnesOffset);
    else
      issue_pv_sw128<T>(o, pa, sV + stage * kBytesKV, kBytesKV);
  };
  // Masks keys past n_k (the last block only), exponentiates S in place against the new row
  // maxima and returns the factors that rescale what was accumulated before.
  auto softmax = [&](int j, float(&corr)[2]) {
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
      corr[r] = fast_exp2((row_max[r] - mx) * scale_log2);
      row_max[r] = mx;
      const float mxs = mx * scale_log2;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
        const float p0 = fast_exp2(fmaf(s[nt * 4 + 2 * r], scale_log2, -mxs));
        const float p1 = fast_exp2(fmaf(s[nt * 4 + 2 * r + 1], scale_log2, -mxs));
        s[nt * 4 + 2 * r] = p0;
        s[nt * 4 + 2 * r + 1] = p1;
        if constexpr (!Traits::kTensorRowSum) sum += p0 + p1;
      }
      if constexpr (!Traits::kTensorRowSum) row_sum[r] = row_sum[r] * corr[r] + sum;
    }
    return true;
  };
  ws_consume<Traits::kConsumers>(ring, n_blocks, o, issue_qk, issue_pv, softmax,
                                 [&] { accum_to_a<T>(s, pa); });

  // Epilogue: O / rowsum staged into this warpgroup's own Q rows in the same swizzle (16-byte
  // chunk c of row r at c ^ (r % 8): conflict-free), then 16-byte stores.
  named_barrier_sync<128>(1 + cw);  // every warp of this warpgroup is done reading its Q rows
  const int row0 = m0 + cw * 64;
  const int rows = min(64, p.n_q - row0);
  float* lse = p.lse + static_cast<std::int64_t>(blockIdx.y) * p.n_q + row0;
  unsigned char* stage = smem_raw + (q_rows - smem_addr(smem_raw));
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float sum = row_total<Traits::kTensorRowSum>(o, row_sum, r);
    const float inv = 1.f / sum;
    const int row = warp * 16 + quad + 8 * r;
    if (tq == 0 && row < rows) lse[row] = row_max[r] * p.scale + logf(sum);
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
      *reinterpret_cast<std::uint32_t*>(stage + row * kRowBytes + ((dt ^ (row & 7)) * 16) +
                                        tq * 4) =
          E::pack(o[dt * 4 + 2 * r] * inv, o[dt * 4 + 2 * r + 1] * inv);
  }
  named_barrier_sync<128>(1 + cw);
  T* out = static_cast<T*>(p.o) + b * p.o_batch_stride + h * p.o_head_stride +
           static_cast<std::int64_t>(row0) * p.o_row_stride;
  const int t = threadIdx.x % 128;
#pragma unroll
  for (int i = 0; i < 64 * kDTiles / 128; ++i) {
    const int c = i * 128 + t, row = c / kDTiles, chunk = c % kDTiles;
    if (row < rows && chunk * 8 < p.d)
      *reinterpret_cast<uint4*>(out + row * p.o_row_stride + chunk * 8) =
          *reinterpret_cast<const uint4*>(stage + row * kRowBytes + ((chunk ^ (row & 7)) * 16));
  }
#else
  __trap();  // built without sm_90a: flash_api.cu never launches it then
#endif
}

// cudaErrorNotSupported when the tensors cannot be described to TMA (the caller runs the
// mma.sync kernel then).
template <class Traits, class T>
cudaError_t launch_fwd_ws(const FlashFwdParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_q == 0) return cudaSuccess;
  if (bh > kMaxBatchHeads || p.n_k == 0 || p.d > Traits::kHeadDim) return cudaErrorNotSupported;
  const Dtype dtype = dtype_of<T>();
  FwdTensorMaps maps;
  cudaError_t status =
      encode_tile_map(&maps.q, p.q, dtype, p.batch, p.heads, p.n_q, p.d, p.q_row_stride,
                      p.q_head_stride, p.q_batch_stride, Traits::kBlockM);
  if (status == cudaSuccess)
    status = encode_tile_map(&maps.k, p.k, dtype, p.batch, p.heads, p.n_k, p.d, p.k_row_stride,
                             p.k_head_stride, p.k_batch_stride, Traits::kBlockN);
  if (status == cudaSuccess)
    status = encode_tile_map(&maps.v, p.v, dtype, p.batch, p.heads, p.n_k, p.d, p.v_row_stride,
                             p.v_head_stride, p.v_batch_stride, Traits::kBlockN);
  if (status != cudaSuccess) return status;
  return launch_with_smem(flash_fwd_ws_kernel<Traits, T>,
                          dim3((p.n_q + Traits::kBlockM - 1) / Traits::kBlockM, bh),
                          Traits::kThreads, Traits::kSmemBytes, stream, p, maps);
}

// The tiles that run (the version log has the alternatives' numbers).
template <int kHeadDim>
struct WsFwdConfig;
template <>
struct WsFwdConfig<64> {
  using Traits = WsFwdTraits<64, 4, 3, false>;
};

template <int kHeadDim, class T>
cudaError_t run_fwd_ws_hdim(const FlashFwdParams& p, cudaStream_t stream) {
  return launch_fwd_ws<typename WsFwdConfig<kHeadDim>::Traits, T>(p, stream);
}

}  // namespace latentcast::kernels::flash
