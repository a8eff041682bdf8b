// Cross-attention tokens of a history window: one per patch of 8 steps and one for its spectrum.
// Ref: Nie et al. 2023, "A Time Series is Worth 64 Words" (PatchTST) for the patch tokens.
#include "model/nn/unet.h"

namespace latentcast::nn {

HistoryTokensImpl::HistoryTokensImpl(std::int64_t lookback, std::int64_t context_dim)
    : lookback_(lookback), patches_((lookback + 7) / 8) {
  TORCH_CHECK(lookback > 0 && context_dim > 0,
              "HistoryTokens: lookback and context_dim must be positive");
  patch_proj_ = register_module("patch_proj", torch::nn::Linear(patch_, context_dim));
  spectrum_proj_ =
      register_module("spectrum_proj", torch::nn::Linear(lookback / 2 + 1, context_dim));
  position_ = register_parameter("position", 0.02 * torch::randn({patches_, context_dim}));
}

torch::Tensor HistoryTokensImpl::forward(const torch::Tensor& history) {
  TORCH_CHECK(history.dim() == 2 && history.size(1) == lookback_, "HistoryTokens expects [B, ",
              lookback_, "], got ", history.sizes());
  const std::int64_t b = history.size(0), pad = patches_ * patch_ - lookback_;
  // Left padding with the first value: no artificial jump, and the recent end stays aligned.
  const torch::Tensor padded =
      torch::cat({history.narrow(1, 0, 1).expand({b, pad}), history}, 1);  // [B, P * 8]
  const torch::Tensor patches =
      patch_proj_(padded.reshape({b, patches_, patch_})) + position_;  // [B, P, D]
  // Magnitudes of the mean-removed history: the periodicities, independent of level and phase.
  const torch::Tensor centered = history - history.mean(1, true);
  const torch::Tensor spectrum =
      torch::fft::rfft(centered, lookback_, -1, "ortho").abs();          // [B, L/2 + 1]
  const torch::Tensor spectral = spectrum_proj_(spectrum).unsqueeze(1);  // [B, 1, D]
  return torch::cat({patches, spectral}, 1);                             // [B, P + 1, D]
}

}  // namespace latentcast::nn
