// Hopper's asynchronous machinery for the warp-specialised flash forward (sm_90a): the tensor
// memory accelerator (TMA) copying tiles of [B, heads, N, d] tensors into 128-byte-swizzled shared
// memory, mbarriers that count its bytes and the consumers' releases, register reallocation
// between producer and consumer warpgroups, and wgmma descriptors for the swizzled tiles.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (types only: the encoder is fetched at run time)
#include <cuda_runtime.h>

#include <cstdint>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/flash/flash_wgmma.cuh"

namespace latentcast::kernels::flash {

// The three tensor maps of one forward launch, passed by value as a __grid_constant__ parameter.
struct FwdTensorMaps {
  CUtensorMap q, k, v;
};

// --- device side -------------------------------------------------------------------------------

__device__ __forceinline__ void mbar_init(std::uint32_t bar, std::uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
// Makes the initialised barriers visible to the copy engine and the other threads.
__device__ __forceinline__ void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival that also announces `bytes` of copies that will complete on this barrier.
__device__ __forceinline__ void mbar_arrive_expect_tx(std::uint32_t bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the barrier's phase of parity `parity` has completed (a fresh barrier counts its
// phase of parity 1 as completed, so producers start by waiting on parity 1).
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, std::uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

// A box of a 4-d tensor map (coordinates innermost first: column, row, head, batch) into shared
// memory; completion is counted in bytes on `bar`. Out-of-range elements arrive as zeros.
__device__ __forceinline__ void tma_load_4d(std::uint32_t dst, const CUtensorMap* map, int c0,
                                            int c1, int c2, int c3, std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, "
      "%3, %4, %5}], [%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_prefetch_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<std::uint64_t>(map)) : "memory");
}

// Adds a box of shared memory (the map's box and swizzle) into the map's global tensor, fp32
// additions in the L2 (rows and columns out of range are dropped). Asynchronous: a bulk group of
// the issuing thread, closed by bulk_commit and waited for by bulk_wait / bulk_wait_read.
__device__ __forceinline__ void tma_reduce_add_4d(const CUtensorMap* map, std::uint32_t src, int c0,
                                                  int c1, int c2, int c3) {
  asm volatile(
      "cp.reduce.async.bulk.tensor.4d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4, "
      "%5}], [%1];\n" ::"l"(reinterpret_cast<std::uint64_t>(map)),
      "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
__device__ __forceinline__ void bulk_commit() {
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}
// Until at most kPending of this thread's bulk groups have not finished reading shared memory.
template <int kPending>
__device__ __forceinline__ void bulk_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(kPending) : "memory");
}
// Until at most kPending of this thread's bulk groups are incomplete (writes done).
template <int kPending>
__device__ __forceinline__ void bulk_wait() {
  asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// The register split of a warp-specialised CTA of one producer and kConsumers consumer
// warpgroups: the launch gives every thread 64 Ki / threads (a multiple of 8); the producer drops
// to kWsProducerRegs and the consumers take what that frees, in setmaxnreg's multiples of 8.
constexpr int kWsProducerRegs = 24;
constexpr int ws_consumer_regs(int consumers) {
  const int threads = 128 * (consumers + 1), launch = 65536 / threads / 8 * 8;
  return (launch * threads - 128 * kWsProducerRegs) / (128 * consumers) / 8 * 8;
}

// Registers per thread of the executing warpgroup (sm_90a); needs a register cap at kernel entry.
template <int kRegs>
__device__ __forceinline__ void regs_release() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void regs_claim() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

// Barrier over the `kThreads` threads that use named barrier `id` (1..15; 0 is __syncthreads).
template <int kThreads>
__device__ __forceinline__ void named_barrier_sync(int id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(kThreads) : "memory");
}
// Arrival without waiting on named barrier `id`, counted among its `kThreads`.
template <int kThreads>
__device__ __forceinline__ void named_barrier_arrive(int id) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "n"(kThreads) : "memory");
}

// The shared-memory ring of a warp-specialised attention forward: Q once a tile, then K_j and V_j
// of each key block into stage g % kStages (g counts the key blocks of all the CTA's tiles so
// far), with a full barrier (the copy's bytes) and an empty one (the consumers' releases) per
// stage and tensor, and Q's pair (empty_q: a persistent CTA's next Q waits for it). Lives in
// static shared memory.
template <int kStages>
struct KvRing {
  std::uint64_t bars[2 + 4 * kStages];

  __device__ std::uint32_t q() const { return smem_addr(&bars[0]); }
  __device__ std::uint32_t full_k(int s) const { return smem_addr(&bars[1 + s]); }
  __device__ std::uint32_t full_v(int s) const { return smem_addr(&bars[1 + kStages + s]); }
  __device__ std::uint32_t empty_k(int s) const { return smem_addr(&bars[1 + 2 * kStages + s]); }
  __device__ std::uint32_t empty_v(int s) const { return smem_addr(&bars[1 + 3 * kStages + s]); }
  __device__ std::uint32_t empty_q() const { return smem_addr(&bars[1 + 4 * kStages]); }
  // Key block g of the CTA's stream (its tiles' blocks in order): its stage, and the parity of
  // that stage's use.
  static __device__ int stage_of(int g) { return g % kStages; }
  static __device__ std::uint32_t use_parity(int g) { return (g / kStages) & 1; }

  // By one thread, before a __syncthreads: each consumer warp releases a stage once.
  __device__ void init(int consumer_warps) const {
    mbar_init(q(), 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full_k(s), 1);
      mbar_init(full_v(s), 1);
      mbar_init(empty_k(s), consumer_warps);
      mbar_init(empty_v(s), consumer_warps);
    }
    mbar_init(empty_q(), consumer_warps);
    mbar_init_fence();
  }

  // By the producer's one thread: the Q tile at row m0, then K_j before V_j for every key block,
  // each into its stage once the consumers have released it. For the `round`-th tile of a
  // persistent CTA (from 0; every tile has n_blocks key blocks): K_0 and V_0 first (their stages
  // free up while the last tile's final products run), then Q once the consumers have released
  // the last one's (empty_q: their last Q K^T is done).
  __device__ void produce(const CUtensorMap* q_map, std::uint32_t sq, std::uint32_t q_bytes, int m0,
                          const CUtensorMap* k_map, std::uint32_t sk, std::uint32_t k_bytes,
                          const CUtensorMap* v_map, std::uint32_t sv, std::uint32_t v_bytes,
                          int block_n, int n_blocks, int h, int b, int round = 0) const {
    const auto load_q = [&] {
      mbar_arrive_expect_tx(q(), q_bytes);
      tma_load_4d(sq, q_map, 0, m0, h, b, q());
    };
    if (round == 0) {
      tma_prefetch_map(q_map);
      tma_prefetch_map(k_map);
      tma_prefetch_map(v_map);
      load_q();
    }
    for (int j = 0; j < n_blocks; ++j) {
      const int g = round * n_blocks + j, s = stage_of(g);
      const std::uint32_t free_parity = use_parity(g) ^ 1;
      mbar_wait(empty_k(s), free_parity);
      mbar_arrive_expect_tx(full_k(s), k_bytes);
      tma_load_4d(sk + s * k_bytes, k_map, 0, j * block_n, h, b, full_k(s));
      mbar_wait(empty_v(s), free_parity);
      mbar_arrive_expect_tx(full_v(s), v_bytes);
      tma_load_4d(sv + s * v_bytes, v_map, 0, j * block_n, h, b, full_v(s));
      if (round > 0 && j == 0) {
        mbar_wait(empty_q(), (round - 1) & 1);
        load_q();
      }
    }
  }
};

// A wgmma descriptor for a K-major tile of 64-byte rows in the 64-byte swizzle (8-row atoms of
// 512 bytes, 512-byte aligned): the stride byte offset steps 8 rows; a k32 step of 8-bit
// elements advances the start by 32 bytes.
__device__ __forceinline__ std::uint64_t wgmma_desc_sw64(std::uint32_t smem_addr) {
  return wgmma_desc(smem_addr, 16, 512, 2);
}

// A wgmma descriptor for an MN-major tile of 64-byte rows in the 64-byte swizzle (8-row atoms of
// 512 bytes, 512-byte aligned), as wgmma_desc_sw128 below for the 128-byte one: the stride byte
// offset steps 8 rows along K, the leading offset is the distance between 32-element column
// blocks along MN.
__device__ __forceinline__ std::uint64_t wgmma_desc_sw64_mn(std::uint32_t smem_addr,
                                                            std::uint32_t lbo_bytes,
                                                            std::uint32_t sbo_bytes) {
  return wgmma_desc(smem_addr, lbo_bytes, sbo_bytes, 2);
}

// A wgmma shared-memory descriptor for a tile in the 128-byte swizzle layout that TMA writes
// (8-row atoms of 1024 bytes, 1024-byte aligned). K-major: the stride byte offset steps 8 rows
// (1024), the leading offset is unused (1); a k16 step advances the start by 32 bytes.
// MN-major: the stride byte offset steps 8 rows along K (1024), the leading offset is the
// distance between 64-element column blocks along MN.
__device__ __forceinline__ std::uint64_t wgmma_desc_sw128(std::uint32_t smem_addr,
                                                          std::uint32_t lbo_bytes,
                                                          std::uint32_t sbo_bytes) {
  return wgmma_desc(smem_addr, lbo_bytes, sbo_bytes, 1);
}

// --- host side ---------------------------------------------------------------------------------

// Encodes a tensor map over a [batch, heads, n, d] tensor with unit stride along d (strides in
// elements), boxes of [box_rows, 64] 16-bit elements in the 128-byte swizzle. Columns past d and
// rows past n read as zeros. cudaErrorNotSupported when the driver lacks the encoder or rejects
// the tensor (alignment, strides): the caller then runs the mma.sync kernel.
// box_cols 32: boxes of [box_rows, 32] elements (64-byte rows) in the 64-byte swizzle, d <= 32.
cudaError_t encode_tile_map(CUtensorMap* map, const void* base, Dtype dtype, int batch, int heads,
                            int n, int d, std::int64_t row_stride, std::int64_t head_stride,
                            std::int64_t batch_stride, int box_rows, int box_cols = 64);
// A map over a contiguous [batch, heads, n, d] fp32 tensor (d a multiple of 4), boxes of
// [box_rows, 32] floats (128-byte rows) in the 128-byte swizzle: the backward's dQ accumulator.
cudaError_t encode_f32_tile_map(CUtensorMap* map, float* base, int batch, int heads, int n, int d,
                                int box_rows);
// The same over a contiguous [batch, heads, n, 64] INT8 tensor (sage's quantised Q and K), boxes
// of [box_rows, 64] bytes in the 64-byte swizzle.
cudaError_t encode_int8_tile_map(CUtensorMap* map, const void* base, int batch, int heads, int n,
                                 int box_rows);

}  // namespace latentcast::kernels::flash
