// The quantisation pass in one launch on sm_90: thread-block clusters share K's column sums through
// distributed shared memory, so the pass needs no memset, no float32 atomics and no second launch,
// and gives the same bits every run. The arithmetic per value is the portable pass's
// (sage_quant_kernel.cuh, which GPUs without clusters run): Q times softmax_scale log2(e), K minus
// its mean, each 64-token block to INT8 with scale max|x| / 127, round-half-even.
//
// Layout: a warp owns a whole 64-token block (its lanes' 16-byte chunks in registers, the block's
// maximum by shuffles alone). The K of one batch-head is spread over one cluster of kCluster CTAs
// of kWarps warps, blocks interleaved over the cluster's warps: each CTA sums its blocks' columns,
// the cluster meets at a barrier, and every CTA adds the kCluster partial sums in rank order from
// its peers' shared memory. A warp then quantises the block still in its registers and reloads
// any other it summed (long sequences; from the L2). Q's blocks take the clusters after K's, a
// block a warp.
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/sage/sage.h"
#include "model/kernels/sage/sage_launch.h"
#include "model/kernels/sage/sage_quant_kernel.cuh"

namespace latentcast::kernels::sage {

template <int kHeadDim_>
struct ClusterQuantTraits {
  static constexpr int kHeadDim = kHeadDim_;                  // padded head dim of the INT8 rows
  static constexpr int kCpr = kHeadDim / 8;                   // 16-byte chunks per row
  static constexpr int kRowsPerLoad = 32 / kCpr;              // rows one warp-wide load covers
  static constexpr int kChunks = kQuantBlock / kRowsPerLoad;  // a lane's chunks of one block
  static constexpr int kWarps = 8, kThreads = 32 * kWarps;
  static constexpr int kCluster = 8;  // CTAs per batch-head of K (the portable cluster size)
  static_assert(kHeadDim % 32 == 0 && kHeadDim <= 128, "head dims 32, 64 or 128");
  static_assert(kQuantBlock % kRowsPerLoad == 0, "whole loads per block");
  static_assert(kClusterQuantMaxKeys == kCluster * kWarps * kQuantBlock,
                "the dispatch bound (sage_launch.h) is one block a warp");
};

// The clusters of a launch: one per batch-head of K (none without keys), then enough for Q's blocks
// at a warp each.
template <class Traits>
struct ClusterQuantGrid {
  std::int64_t k_clusters = 0, q_clusters = 0;
  ClusterQuantGrid(const SageQuantParams& p) {
    const int bh = p.batch * p.heads;
    const std::int64_t q_blocks =
        static_cast<std::int64_t>(bh) * ((p.n_q + kQuantBlock - 1) / kQuantBlock);
    constexpr int kPerCluster = Traits::kCluster * Traits::kWarps;
    k_clusters = p.n_k > 0 ? bh : 0;
    q_clusters = (q_blocks + kPerCluster - 1) / kPerCluster;
  }
};

template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads)
    sage_quant_cluster_kernel(const SageQuantParams p, int k_clusters) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  constexpr int kCpr = Traits::kCpr, kRows = Traits::kRowsPerLoad, kChunks = Traits::kChunks;
  constexpr int kD = Traits::kHeadDim, kWarps = Traits::kWarps, kCluster = Traits::kCluster;
  __shared__ float warp_sums[kWarps][kD];
  __shared__ float cta_sums[kD];  // read by the cluster's other CTAs
  __shared__ float mean[kD];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int col = (lane % kCpr) * 8, row_lane = lane / kCpr;
  const bool col_ok = col < p.d;
  const int cluster = blockIdx.x / kCluster, rank = blockIdx.x % kCluster;
  const int q_blocks = (p.n_q + kQuantBlock - 1) / kQuantBlock;
  const int k_blocks = (p.n_k + kQuantBlock - 1) / kQuantBlock;

  uint4 x[kChunks];  // this lane's chunks of the block: rows row_lane + i kRows, columns col..+7
  auto load_block = [&](const T* src, std::int64_t row_stride, int rows) {
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int r = row_lane + i * kRows;
      x[i] = r < rows && col_ok ? *reinterpret_cast<const uint4*>(
                                      src + static_cast<std::int64_t>(r) * row_stride + col)
                                : make_uint4(0u, 0u, 0u, 0u);
    }
  };
  // The block in x to INT8: value (x q_mul for Q, x - mean for K), scale, rows below `rows`.
  auto quantise = [&](bool is_q, float q_mul, const float(&m)[8], std::int8_t* dst, int rows,
                      float* scale_out) {
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      if (row_lane + i * kRows >= rows) continue;
      float v[8];
      unpack8<T>(x[i], v);
#pragma unroll
      for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(is_q ? v[e] * q_mul : v[e] - m[e]));
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2)
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    // An all-zero block keeps scale 1 (its values are all 0 either way), as in the CPU reference.
    const float scale = amax > 0.f ? amax / 127.f : 1.f, inv_scale = 1.f / scale;
    if (lane == 0) *scale_out = scale;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int r = row_lane + i * kRows;
      if (r >= rows) continue;
      float v[8];
      unpack8<T>(x[i], v);
      std::uint32_t packed[2] = {0u, 0u};
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float y = is_q ? v[e] * q_mul : v[e] - m[e];  // columns past d: 0 - 0
        const int q = max(-127, min(127, __float2int_rn(y * inv_scale)));
        packed[e / 4] |= (static_cast<std::uint32_t>(q) & 0xffu) << (8 * (e % 4));
      }
      *reinterpret_cast<uint2*>(dst + r * kD + col) = make_uint2(packed[0], packed[1]);
    }
  };

  if (cluster >= k_clusters) {  // Q: one block a warp
    const std::int64_t g =
        (static_cast<std::int64_t>(cluster - k_clusters) * kCluster + rank) * kWarps + warp;
    if (g >= static_cast<std::int64_t>(p.batch) * p.heads * q_blocks) return;
    const int bh = static_cast<int>(g / q_blocks), blk = static_cast<int>(g % q_blocks);
    const int b = bh / p.heads, h = bh % p.heads, row0 = blk * kQuantBlock;
    const int rows = min(kQuantBlock, p.n_q - row0);
    load_block(static_cast<const T*>(p.q) + b * p.q_batch_stride + h * p.q_head_stride +
                   static_cast<std::int64_t>(row0) * p.q_row_stride,
               p.q_row_stride, rows);
    const float none[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    quantise(true, p.softmax_scale * 1.4426950408889634f, none,
             p.q8 + (static_cast<std::int64_t>(bh) * p.n_q + row0) * kD, rows,
             p.q_scales + static_cast<std::int64_t>(bh) * q_blocks + blk);
    return;
  }

  // K of batch-head `cluster`: this warp's blocks are first, first + stride, ...
  const int bh = cluster, b = bh / p.heads, h = bh % p.heads;
  const T* k = static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride;
  const int first = rank * kWarps + warp, stride = kCluster * kWarps;
  auto block_src = [&](int blk) {
    return k + static_cast<std::int64_t>(blk) * kQuantBlock * p.k_row_stride;
  };
  auto block_rows = [&](int blk) { return min(kQuantBlock, p.n_k - blk * kQuantBlock); };
  float sum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int last = -1;
  for (int blk = first; blk < k_blocks; blk += stride) {
    load_block(block_src(blk), p.k_row_stride, block_rows(blk));
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {  // chunks past the block's rows or d are zeros
      float v[8];
      unpack8<T>(x[i], v);
#pragma unroll
      for (int e = 0; e < 8; ++e) sum[e] += v[e];
    }
    last = blk;
  }
  // Lanes of one column chunk hold rows row_lane, row_lane + kRows, ...: add across them.
#pragma unroll
  for (int off = kCpr; off < 32; off *= 2)
#pragma unroll
    for (int e = 0; e < 8; ++e) sum[e] += __shfl_xor_sync(0xffffffffu, sum[e], off);
  if (lane < kCpr)
#pragma unroll
    for (int e = 0; e < 8; ++e) warp_sums[warp][col + e] = sum[e];
  __syncthreads();
  for (int c = threadIdx.x; c < kD; c += Traits::kThreads) {
    float s = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) s += warp_sums[w][c];
    cta_sums[c] = s;
  }
  cg::cluster_group cl = cg::this_cluster();
  cl.sync();  // every CTA's sums written (release / acquire across the cluster)
  for (int c = threadIdx.x; c < kD; c += Traits::kThreads) {
    float s = 0.f;
#pragma unroll
    for (int r = 0; r < kCluster; ++r) s += cl.map_shared_rank(cta_sums, r)[c];
    const float m = c < p.d ? s / static_cast<float>(p.n_k) : 0.f;
    mean[c] = m;
    if (rank == 0 && c < p.d) p.k_mean[static_cast<std::int64_t>(bh) * p.d + c] = m;
  }
  __syncthreads();
  // This CTA has read its peers' sums; it waits for theirs of its own only before it exits.
  cl.barrier_arrive();
  float m[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) m[e] = mean[col + e];
  std::int8_t* k8 = p.k8 + static_cast<std::int64_t>(bh) * p.n_k * kD;
  float* k_scales = p.k_scales + static_cast<std::int64_t>(bh) * k_blocks;
  for (int blk = last; blk >= first; blk -= stride) {
    if (blk != last) load_block(block_src(blk), p.k_row_stride, block_rows(blk));
    quantise(false, 1.f, m, k8 + static_cast<std::int64_t>(blk) * kQuantBlock * kD, block_rows(blk),
             k_scales + blk);
  }
  cl.barrier_wait();
#else
  __trap();  // sage_api.cu launches it only on GPUs with clusters (sm_90 and later)
#endif
}

template <int kHeadDim, class T>
cudaError_t run_quant_cluster_hdim(const SageQuantParams& p, cudaStream_t stream) {
  using Traits = ClusterQuantTraits<kHeadDim>;
  const int bh = p.batch * p.heads;
  if (bh == 0 || (p.n_q == 0 && p.n_k == 0)) return cudaSuccess;
  if (bh > flash::kMaxBatchHeads) return cudaErrorInvalidConfiguration;
  if (p.n_k == 0) {  // no clusters for K: its mean is 0, as the portable pass leaves it
    const cudaError_t status =
        cudaMemsetAsync(p.k_mean, 0, sizeof(float) * static_cast<std::size_t>(bh) * p.d, stream);
    if (status != cudaSuccess) return status;
  }
  const ClusterQuantGrid<Traits> grid(p);
  const std::int64_t ctas = (grid.k_clusters + grid.q_clusters) * Traits::kCluster;
  if (ctas >= (std::int64_t(1) << 31)) return cudaErrorInvalidConfiguration;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(static_cast<unsigned>(ctas));
  config.blockDim = dim3(Traits::kThreads);
  config.stream = stream;
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeClusterDimension;
  attribute[0].val.clusterDim.x = Traits::kCluster;
  attribute[0].val.clusterDim.y = 1;
  attribute[0].val.clusterDim.z = 1;
  config.attrs = attribute;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, sage_quant_cluster_kernel<Traits, T>, p,
                            static_cast<int>(grid.k_clusters));  // at most batch x heads
}

}  // namespace latentcast::kernels::sage
