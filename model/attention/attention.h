// The one attention interface of the model (LibTorch; internal to model/). Every backend computes
// softmax(q k^T / sqrt(d)) v, or its own documented approximation, for q [B, heads, Nq, d],
// k and v [B, heads, Nk, d]; the UNet calls only this.
#pragma once

#include <torch/torch.h>

#include "estimator/config.h"

namespace latentcast {

struct AttentionSettings {
  AttentionBackend backend = AttentionBackend::Math;  // already resolved (never Auto)
  int slice_size = 1024;                              // sliced backend
  int window_size = 8, window_overlap = 2;            // local window backend
};

// Dispatches to the backend; throws std::invalid_argument for a backend not built yet or unavailable.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const AttentionSettings& settings);

// The reference: materialises the [B, heads, Nq, Nk] scores.
torch::Tensor math_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

}  // namespace latentcast
