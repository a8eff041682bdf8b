// Baselines computed by the project on the same windows as the model: last value, seasonal naive,
// and a DLinear-style linear model fitted in closed form. Histories [N, L, C] -> forecasts [N, H,
// C].
#pragma once

#include <torch/torch.h>

namespace latentcast {

torch::Tensor last_value_forecast(const torch::Tensor& history, std::int64_t horizon);
// Repeats the last `period` steps of the history (period clamped to [1, L]).
torch::Tensor seasonal_naive_forecast(const torch::Tensor& history, std::int64_t horizon,
                                      std::int64_t period);

// Ref: Zeng et al. 2023, "Are Transformers Effective for Time Series Forecasting?" (DLinear): the
// history is split into a trend (moving average, kernel 25, edge-padded) and a remainder, each
// mapped to the horizon by a linear layer shared across channels. Fitted here by ridge least
// squares on all training windows and channels (one solve), instead of by gradient descent.
class LinearBaseline {
 public:
  void fit(const torch::Tensor& history, const torch::Tensor& future, double ridge = 1e-3);
  torch::Tensor predict(const torch::Tensor& history) const;
  bool fitted() const { return weights_.defined(); }

 private:
  torch::Tensor features(const torch::Tensor& history) const;  // [N*C, 2L + 1]
  torch::Tensor weights_;                                      // [2L + 1, H]
  std::int64_t kernel_ = 25;
};

}  // namespace latentcast
