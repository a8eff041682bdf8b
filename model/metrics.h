// Forecast scores and quantiles (LibTorch; internal to model/). Shapes: K samples, N windows,
// H horizon, C channels. Scores are on scaled values, averaged over windows, steps and channels.
#pragma once

#include <torch/torch.h>

namespace latentcast {

struct Quantiles {
  torch::Tensor q05, q25, median, q75, q95;  // each [N, H, C]
};
Quantiles quantiles(const torch::Tensor& samples);  // [K, N, H, C]

struct Scores {
  double mse = 0, mae = 0;  // of the point forecast (the median for samples)
  double crps = 0;          // from samples; equals MAE for a point forecast
  double coverage50 =
      -1;  // share of truths inside the central 50 % interval; -1 for a point forecast
  double coverage90 = -1;  // likewise for the 90 % interval
};

// CRPS(F, y) = E|X - y| - 0.5 E|X - X'|, computed exactly from the K samples (sorted form, O(K log
// K)).
torch::Tensor crps(const torch::Tensor& samples,
                   const torch::Tensor& truth);  // [K, ...], [...] -> [...]
Scores score_samples(const torch::Tensor& samples, const torch::Tensor& truth);
Scores score_point(const torch::Tensor& prediction, const torch::Tensor& truth);  // [N, H, C]

}  // namespace latentcast
