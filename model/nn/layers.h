// Small layer helpers shared by the VAE and the UNet (LibTorch; internal to model/nn).
#pragma once

#include <torch/torch.h>

#include <algorithm>

namespace latentcast::nn {

// GroupNorm with at most 32 groups of at least 4 channels each (fewer channels per group turns it
// into instance norm on small widths), using the largest group count that divides `channels`.
// Ref: Wu & He 2018, "Group Normalization".
inline torch::nn::GroupNorm group_norm(std::int64_t channels) {
  std::int64_t groups = std::clamp<std::int64_t>(channels / 4, 1, 32);
  while (channels % groups != 0) --groups;
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6));
}

inline torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

inline torch::nn::Conv2d conv1x1(std::int64_t in, std::int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}

}  // namespace latentcast::nn
