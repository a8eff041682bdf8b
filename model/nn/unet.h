// The conditional UNet denoiser over latents (LibTorch; internal). Residual blocks with a
// sinusoidal time embedding, GroupNorm and dropout; self-attention (and cross-attention to history
// tokens when enabled) at the configured levels through the attention interface; gradient
// checkpointing per block.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "estimator/config.h"
#include "model/attention/attention.h"

namespace latentcast::nn {

struct UnetOptions {
  std::int64_t in_channels = 4;  // c, the noisy latent
  std::int64_t cond_channels =
      4;                          // channels concatenated to the input (history latent); 0 for none
  std::int64_t out_channels = 4;  // c, the prediction (epsilon or v)
  std::vector<std::int64_t> channels = {64, 128, 256};  // per level; level i works at side h / 2^i
  std::vector<std::int64_t> attention_levels = {1, 2};
  std::int64_t heads = 4;
  double dropout = 0.1;
  std::int64_t context_dim =
      0;  // > 0: cross-attention to [B, M, context_dim] tokens at attention levels
  CheckpointMode checkpointing = CheckpointMode::None;
  AttentionSettings attention;
};

class UnetImpl : public torch::nn::Module {
 public:
  explicit UnetImpl(const UnetOptions& options);
  // x [B, in, h, h]; t [B] timesteps (any dtype, as float); cond [B, cond, h, h] or undefined;
  // context [B, M, context_dim] or undefined. Returns [B, out, h, h].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& cond,
                        const torch::Tensor& context);
  const UnetOptions& options() const { return options_; }

 private:
  struct Impl;
  UnetOptions options_;
  std::shared_ptr<Impl> impl_;
};
TORCH_MODULE(Unet);

// Tokens that describe a history for cross-attention: patches of the history (length 8, stride 8, a
// linear map each, plus a learned position) and its FFT magnitude spectrum (one token), all of
// width context_dim. history [B, L] -> [B, ceil(L/8) + 1, context_dim].
class HistoryTokensImpl : public torch::nn::Module {
 public:
  HistoryTokensImpl(std::int64_t lookback, std::int64_t context_dim);
  torch::Tensor forward(const torch::Tensor& history);

 private:
  std::int64_t lookback_, patch_ = 8, patches_;
  torch::nn::Linear patch_proj_{nullptr}, spectrum_proj_{nullptr};
  torch::Tensor position_;
};
TORCH_MODULE(HistoryTokens);

}  // namespace latentcast::nn
