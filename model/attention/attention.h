// The one attention interface of the model (LibTorch; internal to model/). Every backend computes
// softmax(q k^T / sqrt(d)) v, or its own documented operator, for q [B, heads, Nq, d] and k, v
// [B, heads, Nk, d]; the UNet calls only attention(). DESIGN.md section 3 lists the backends.
//
//   math          the reference: materialises the [B, heads, Nq, Nk] scores
//   sliced        exact; query slices of memory.slice_size, recomputed slice by slice in the
//   backward,
//                 so the largest score block is slice x Nk in training too
//   flash         exact; our tiled kernels (CPU, and CUDA in model/kernels/flash): online softmax,
//                 only the log-sum-exp kept, backward recomputes the scores tile by tile
//                 (FlashAttention-2). On CUDA it computes in bf16 or fp16: float32 and float64
//                 inputs are cast to bf16 and the results cast back (training runs in bf16 autocast
//                 anyway, and a 16-bit tensor-core kernel is the point of the backend)
//   sage          INT8: K smoothed by its mean over tokens, Q and K quantised per block, Q.K^T in
//                 integer arithmetic, softmax and P.V in floating point (SageAttention)
//   linear        elu(x)+1 feature maps, O(N d^2) (Katharopoulos et al. 2020)
//   channel       transposed attention across the d channels of each head, Q and K L2-normalised
//   over
//                 tokens, a learnable temperature per head (Restormer, Zamir et al. 2022)
//   local_window  self-attention inside w x w windows of the feature map overlapping by o tokens,
//                 blended with fading weights where windows overlap; memory per token is constant
//   sdpa          LibTorch's scaled_dot_product_attention (LibTorch >= 2.0), for comparison
//
// channel and local_window are self-attention operators over a feature map; cross-attention to the
// few context tokens uses `sliced` under them (cross_attention_settings()).
#pragma once

#include <torch/torch.h>

#include <functional>

#include "estimator/config.h"

namespace latentcast {

struct AttentionSettings {
  AttentionBackend backend = AttentionBackend::Math;  // already resolved (never Auto)
  int slice_size = 1024;                              // sliced backend
  int window_size = 8, window_overlap = 2;            // local window backend
};

// What some backends need besides q, k, v.
struct AttentionLayout {
  std::int64_t height = 0, width = 0;  // the query tokens' grid (local_window); N = height * width
  torch::Tensor temperature;           // [heads], channel backend
};

// Dispatches to the backend; throws std::invalid_argument for a backend that cannot run on these
// tensors here (the reason from backend_availability) or a layout the backend needs but lacks.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const AttentionSettings& settings, const AttentionLayout& layout = {});

// Tests and benchmarks: while set, `observer` sees q, k, v of every attention() call (before the
// backend runs, on the calling thread); an empty function clears it. Used to take real
// activations from a UNet forward.
using AttentionObserver =
    std::function<void(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;
void set_attention_observer(AttentionObserver observer);

// The settings cross-attention uses under `settings` (sliced in place of channel and local_window).
AttentionSettings cross_attention_settings(const AttentionSettings& settings);

// The backends, callable directly (tests, benchmark). All take [B, heads, N, d] and differentiate.
torch::Tensor math_attention(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v);
torch::Tensor sliced_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, std::int64_t slice_size);
// CPU tensors; float64 computes in float64, other dtypes in float32.
torch::Tensor flash_attention_cpu(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v);
// CUDA tensors (builds with CUDA only): bf16 and fp16 compute in their type, others in bf16 (see
// above); head dims that are multiples of 8 up to 128.
torch::Tensor flash_attention_cuda(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v);
torch::Tensor sage_attention_cpu(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v);
// CUDA tensors (builds with CUDA only): our INT8 kernels (model/kernels/sage), bf16 and fp16
// computing in their type, others in bf16 as for flash; head dims that are multiples of 8 up to 128.
torch::Tensor sage_attention_cuda(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v);
torch::Tensor linear_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v);
torch::Tensor channel_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& temperature);
torch::Tensor local_window_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, std::int64_t height,
                                     std::int64_t width, std::int64_t window, std::int64_t overlap);

// Sage's quantisation, exposed for tests: x [B, heads, N, d] -> INT8 values and one float32 scale
// per block of `block` tokens ([B, heads, ceil(N / block)]), x ~ values * scale.
struct Int8Blocks {
  torch::Tensor values;  // int8 [B, heads, N, d]
  torch::Tensor scales;  // float32 [B, heads, blocks]
};
Int8Blocks quantize_int8_blocks(const torch::Tensor& x, std::int64_t block);

// The CUDA sage quantisation pass alone (builds with CUDA only), exposed for tests: q, k
// [B, heads, N, d] (computed in bf16, or fp16 for fp16 inputs) -> the kernel's INT8 copies, padded
// to the kernel's head dim dp (columns past d zero), with the blocks of quantize_int8_blocks.
struct SageQuantized {
  torch::Tensor q8, k8;              // int8 [B, heads, N, dp]: Q times 1/sqrt(d) log2(e); K - mean
  torch::Tensor q_scales, k_scales;  // float32 [B, heads, ceil(N / 64)]
  torch::Tensor k_mean;              // float32 [B, heads, d]
};
SageQuantized sage_quantize_cuda(const torch::Tensor& q, const torch::Tensor& k);

}  // namespace latentcast
