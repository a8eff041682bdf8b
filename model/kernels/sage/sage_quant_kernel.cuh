// The quantisation pass of sage attention, apart from the attention kernel (as SageAttention keeps
// its quant_per_block kernels): (1) K's mean over tokens per (batch, head, channel), a reduction
// with float32 atomics; (2) one launch that quantises every 64-token block of Q and of K: Q times
// softmax_scale log2(e) (the attention kernel then works in the exp2 domain), K minus its mean,
// each block to INT8 with scale max|x| / 127 and round-half-even, as the CPU reference
// (quantize_int8_blocks in model/attention/sage_cpu.cpp) does.
// Memory bound: Q and K are read once each (K twice: the mean, then the blocks) and written at a
// quarter of their bf16 size.
// Measured 2026-12-03 (kernel lab "quant alone", H200, (4,8,4096,64) / (1,8,16384,64) /
// (2,8,3136,64)): these kernels 25 / 24 / 13 us, the memset and the mean kernel 9 / 8 / 7 of it.
// Tried and not kept: one cooperative launch of persistent CTAs, a warp per block (its chunks in
// registers, the maximum by shuffles), Q blocks and K's column sums, a grid barrier, then the K
// blocks (from the L2, K having just been read): 32 / 54 / 20 us with the column sums added into
// the mean by float32 atomics (64 / 256 / 49 blocks adding into each address), and 25 / 28 /
// 19 us with the sums written per block and reduced in a phase of their own between two grid
// barriers. (Fifth session, same lab, two rounds in one run against these kernels' 26 / 24 / 13
// us:) two launches without the memset or atomics, K's column sums per 512 tokens written as
// partials in the launch that quantises Q, and the K blocks adding the partials in a fixed order
// (the same bits every run): 30 / 42 / 13 us with each thread adding the partials in turn, 37-38 /
// 38 / 15-16 us with the CTA adding them together after issuing the block's loads; the first
// launch's few summing CTAs, 64 rows a thread, set its length. (Sixth session, same lab, two
// rounds:) one launch of thread-block clusters sharing K's column sums through distributed
// shared memory (sage_quant_cluster_kernel.cuh): 23 / 27 / 9-10 us against these kernels' 26 /
// 24 / 13, so Hopper runs it up to 4096 keys and these kernels past that (and where clusters are
// missing).
#pragma once

#include <cuda_runtime.h>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_common.cuh"
#include "model/kernels/sage/sage.h"

namespace latentcast::kernels::sage {

template <int kHeadDim_>
struct QuantTraits {
  static constexpr int kHeadDim = kHeadDim_;          // padded head dim of the INT8 layout
  static constexpr int kChunksPerRow = kHeadDim / 8;  // 16-byte input chunks (8 elements)
  static constexpr int kThreads = 128;
  static constexpr int kChunks = kQuantBlock * kChunksPerRow;
  static constexpr int kChunksPerThread = kChunks / kThreads;
  static constexpr int kMeanThreads = 256;
  static constexpr int kMeanRowLanes = kMeanThreads / kChunksPerRow;  // rows summed at once
  // Tokens per mean CTA: a few rows per thread, all loads in flight at once (unrolled).
  static constexpr int kMeanRows = 4 * kMeanRowLanes;
  static_assert(kHeadDim % 32 == 0 && kHeadDim <= 128, "head dims 32, 64, 96 or 128");
  static_assert(kChunks % kThreads == 0, "whole chunks per thread");
  static_assert(kThreads % kChunksPerRow == 0, "a thread's chunks share one column");
  static_assert(kMeanThreads % kChunksPerRow == 0, "whole rows per mean step");
};

// 8 16-bit values (one 16-byte chunk) as floats.
template <class T>
__device__ __forceinline__ void unpack8(const uint4& raw, float (&x)[8]) {
  const std::uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = flash::Elem<T>::unpack(w[e]);
    x[2 * e] = f.x;
    x[2 * e + 1] = f.y;
  }
}

template <class T>
__device__ __forceinline__ void load8(const T* src, float (&x)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(src);
  unpack8<T>(raw, x);
}

// k_mean[bh, c] += sum over this CTA's kMeanRows tokens of k[bh, n, c] / n_k (zeroed beforehand).
template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kMeanThreads)
    sage_k_mean_kernel(const SageQuantParams p) {
  constexpr int kCpr = Traits::kChunksPerRow, kLanes = Traits::kMeanRowLanes;
  __shared__ float partial[kLanes][Traits::kHeadDim];
  const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads;
  const int chunk = threadIdx.x % kCpr, lane_row = threadIdx.x / kCpr;
  const int col = chunk * 8;
  const int r0 = blockIdx.x * Traits::kMeanRows;
  const int r1 = min(r0 + Traits::kMeanRows, p.n_k);
  const T* k = static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride;
  float sum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (col < p.d) {
#pragma unroll
    for (int i = 0; i < Traits::kMeanRows / kLanes; ++i) {
      const int r = r0 + lane_row + i * kLanes;
      if (r >= r1) break;
      float x[8];
      load8(k + static_cast<std::int64_t>(r) * p.k_row_stride + col, x);
#pragma unroll
      for (int e = 0; e < 8; ++e) sum[e] += x[e];
    }
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) partial[lane_row][col + e] = sum[e];
  __syncthreads();
  for (int c = threadIdx.x; c < p.d; c += Traits::kMeanThreads) {
    float s = 0.f;
#pragma unroll 4
    for (int l = 0; l < kLanes; ++l) s += partial[l][c];
    atomicAdd(p.k_mean + static_cast<std::int64_t>(bh) * p.d + c, s / static_cast<float>(p.n_k));
  }
}

// One CTA per 64-token block: blockIdx.x < ceil(n_q / 64) are Q blocks, the rest K blocks.
template <class Traits, class T>
__global__ void __launch_bounds__(Traits::kThreads) sage_quant_kernel(const SageQuantParams p) {
  constexpr int kCpr = Traits::kChunksPerRow, kD = Traits::kHeadDim;
  __shared__ float warp_max[Traits::kThreads / 32];
  const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads;
  const int q_blocks = (p.n_q + kQuantBlock - 1) / kQuantBlock;
  const int k_blocks = (p.n_k + kQuantBlock - 1) / kQuantBlock;
  const bool is_q = static_cast<int>(blockIdx.x) < q_blocks;
  const int blk = is_q ? blockIdx.x : blockIdx.x - q_blocks;
  const int n = is_q ? p.n_q : p.n_k;
  const int row0 = blk * kQuantBlock, rows = min(kQuantBlock, n - row0);
  const T* src = is_q ? static_cast<const T*>(p.q) + b * p.q_batch_stride + h * p.q_head_stride
                      : static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride;
  const std::int64_t row_stride = is_q ? p.q_row_stride : p.k_row_stride;
  const float* mean = p.k_mean + static_cast<std::int64_t>(bh) * p.d;
  const float q_mul = p.softmax_scale * 1.4426950408889634f;

  float x[Traits::kChunksPerThread][8];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < Traits::kChunksPerThread; ++i) {
    const int c = i * Traits::kThreads + static_cast<int>(threadIdx.x);
    const int row = c / kCpr, col = (c % kCpr) * 8;
    const bool valid = row < rows && col < p.d;
#pragma unroll
    for (int e = 0; e < 8; ++e) x[i][e] = 0.f;
    if (valid) {
      load8(src + static_cast<std::int64_t>(row0 + row) * row_stride + col, x[i]);
      if (is_q) {
#pragma unroll
        for (int e = 0; e < 8; ++e) x[i][e] *= q_mul;
      } else {
        const float4 m0 = *reinterpret_cast<const float4*>(mean + col);
        const float4 m1 = *reinterpret_cast<const float4*>(mean + col + 4);
        const float m[8] = {m0.x, m0.y, m0.z, m0.w, m1.x, m1.y, m1.z, m1.w};
#pragma unroll
        for (int e = 0; e < 8; ++e) x[i][e] -= m[e];
      }
#pragma unroll
      for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(x[i][e]));
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
#pragma unroll
  for (int w = 0; w < Traits::kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  // An all-zero block keeps scale 1 (its values are all 0 either way), as in the CPU reference.
  const float scale = amax > 0.f ? amax / 127.f : 1.f, inv_scale = 1.f / scale;
  if (threadIdx.x == 0)
    (is_q ? p.q_scales + static_cast<std::int64_t>(bh) * q_blocks
          : p.k_scales + static_cast<std::int64_t>(bh) * k_blocks)[blk] = scale;

  std::int8_t* dst = (is_q ? p.q8 : p.k8) + (static_cast<std::int64_t>(bh) * n + row0) * kD;
#pragma unroll
  for (int i = 0; i < Traits::kChunksPerThread; ++i) {
    const int c = i * Traits::kThreads + static_cast<int>(threadIdx.x);
    const int row = c / kCpr, col = (c % kCpr) * 8;
    if (row >= rows) continue;
    std::uint32_t packed[2] = {0u, 0u};
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      // A multiply by 1 / scale, not the CPU reference's division (about ten instructions per
      // value): the two round apart only within an ulp of a .5 tie, which the tests allow.
      const int v = max(-127, min(127, __float2int_rn(x[i][e] * inv_scale)));
      packed[e / 4] |= (static_cast<std::uint32_t>(v) & 0xffu) << (8 * (e % 4));
    }
    *reinterpret_cast<uint2*>(dst + row * kD + col) = make_uint2(packed[0], packed[1]);
  }
}

// k_smooth = k - k_mean in T, one 16-byte chunk (8 elements) per thread: blockIdx.y is the
// batch-head, so the indexing needs no 64-bit division (the grid-stride form before did three per
// chunk).
template <class T>
__global__ void sage_smooth_k_kernel(const SageSmoothParams p) {
  const int cpr = p.d / 8, rows_per_cta = static_cast<int>(blockDim.x) / cpr;
  const int t = threadIdx.x, lane_row = t / cpr;
  const int row = blockIdx.x * rows_per_cta + lane_row;
  if (lane_row >= rows_per_cta || row >= p.n_k) return;
  const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads, c = t - lane_row * cpr;
  float x[8];
  load8(static_cast<const T*>(p.k) + b * p.k_batch_stride + h * p.k_head_stride +
            static_cast<std::int64_t>(row) * p.k_row_stride + c * 8,
        x);
  const float* mean = p.k_mean + static_cast<std::int64_t>(bh) * p.d + c * 8;
  const float4 m0 = *reinterpret_cast<const float4*>(mean);
  const float4 m1 = *reinterpret_cast<const float4*>(mean + 4);
  uint4 out;
  out.x = flash::Elem<T>::pack(x[0] - m0.x, x[1] - m0.y);
  out.y = flash::Elem<T>::pack(x[2] - m0.z, x[3] - m0.w);
  out.z = flash::Elem<T>::pack(x[4] - m1.x, x[5] - m1.y);
  out.w = flash::Elem<T>::pack(x[6] - m1.z, x[7] - m1.w);
  reinterpret_cast<uint4*>(p.k_smooth)[(static_cast<std::int64_t>(bh) * p.n_k + row) * cpr + c] =
      out;
}

template <class T>
cudaError_t run_smooth_k_typed(const SageSmoothParams& p, cudaStream_t stream) {
  const int bh = p.batch * p.heads;
  if (bh == 0 || p.n_k == 0 || p.d == 0) return cudaSuccess;
  if (bh > flash::kMaxBatchHeads || p.d > 128) return cudaErrorInvalidConfiguration;
  constexpr int kThreads = 256;
  const int rows_per_cta = kThreads / (p.d / 8);
  const dim3 grid((p.n_k + rows_per_cta - 1) / rows_per_cta, bh);
  sage_smooth_k_kernel<T><<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

template <int kHeadDim, class T>
cudaError_t run_quant_hdim(const SageQuantParams& p, cudaStream_t stream) {
  using Traits = QuantTraits<kHeadDim>;
  const int bh = p.batch * p.heads;
  if (bh == 0 || (p.n_q == 0 && p.n_k == 0)) return cudaSuccess;
  if (bh > flash::kMaxBatchHeads) return cudaErrorInvalidConfiguration;
  cudaError_t status =
      cudaMemsetAsync(p.k_mean, 0, sizeof(float) * static_cast<std::size_t>(bh) * p.d, stream);
  if (status != cudaSuccess) return status;
  if (p.n_k > 0) {
    const dim3 grid((p.n_k + Traits::kMeanRows - 1) / Traits::kMeanRows, bh);
    sage_k_mean_kernel<Traits, T><<<grid, Traits::kMeanThreads, 0, stream>>>(p);
    status = cudaGetLastError();
    if (status != cudaSuccess) return status;
  }
  const int blocks =
      (p.n_q + kQuantBlock - 1) / kQuantBlock + (p.n_k + kQuantBlock - 1) / kQuantBlock;
  sage_quant_kernel<Traits, T><<<dim3(blocks, bh), Traits::kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace latentcast::kernels::sage
