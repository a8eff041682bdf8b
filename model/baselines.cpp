// The reference forecasts every model result is shown beside: last value, seasonal naive and a
// closed-form DLinear. All of them work on whole batches of windows at once.
#include "model/baselines.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>

namespace latentcast {
namespace {

void check_history(const char* where, const torch::Tensor& history, std::int64_t horizon) {
  if (history.dim() != 3 || history.size(1) < 1) {
    std::ostringstream os;
    os << where << ": expected a history [N, L >= 1, C], got " << history.sizes();
    throw std::invalid_argument(os.str());
  }
  if (horizon < 1)
    throw std::invalid_argument(std::string(where) + ": horizon must be >= 1, got " +
                                std::to_string(horizon));
}

}  // namespace

torch::Tensor last_value_forecast(const torch::Tensor& history, std::int64_t horizon) {
  check_history("last_value_forecast", history, horizon);
  const std::int64_t lookback = history.size(1);
  return history.slice(1, lookback - 1, lookback)
      .expand({history.size(0), horizon, history.size(2)})
      .contiguous();  // [N, H, C]
}

torch::Tensor seasonal_naive_forecast(const torch::Tensor& history, std::int64_t horizon,
                                      std::int64_t period) {
  check_history("seasonal_naive_forecast", history, horizon);
  const std::int64_t lookback = history.size(1);
  const std::int64_t p = std::clamp<std::int64_t>(period, 1, lookback);
  // Step h repeats row L - p + (h mod p): the last p rows, cyclically.
  const auto steps =
      torch::arange(horizon, torch::TensorOptions(torch::kLong).device(history.device()));  // [H]
  return history.index_select(1, steps.remainder(p) + (lookback - p));  // [N, H, C]
}

torch::Tensor LinearBaseline::features(const torch::Tensor& history) const {
  const std::int64_t n = history.size(0), lookback = history.size(1), channels = history.size(2);
  const std::int64_t m = n * channels;
  // Channel-independent: each (window, channel) pair is one row, as DLinear shares its layers.
  const auto x = history.to(torch::kFloat64).permute({0, 2, 1}).reshape({m, lookback});  // [M, L]
  // DLinear's series_decomp: repeat the first and last values (k - 1) / 2 times, then a moving
  // average of stride 1, so the trend has L values.
  const std::int64_t half = (kernel_ - 1) / 2;
  const auto padded = torch::cat(
      {x.slice(1, 0, 1).expand({m, half}), x, x.slice(1, lookback - 1, lookback).expand({m, half})},
      1);  // [M, L + k - 1]
  const auto trend = torch::avg_pool1d(padded.unsqueeze(1), {kernel_}, {1}).squeeze(1);  // [M, L]
  return torch::cat({trend, x - trend, torch::ones({m, 1}, x.options())}, 1);  // [M, 2L + 1]
}

void LinearBaseline::fit(const torch::Tensor& history, const torch::Tensor& future, double ridge) {
  check_history("LinearBaseline::fit", history, 1);
  if (future.dim() != 3 || future.size(1) < 1 || future.size(0) != history.size(0) ||
      future.size(2) != history.size(2)) {
    std::ostringstream os;
    os << "LinearBaseline::fit: expected a future [N, H >= 1, C] for the history "
       << history.sizes() << ", got " << future.sizes();
    throw std::invalid_argument(os.str());
  }
  // The trend and remainder features are linear in the history, so X has rank L + 1 of 2L + 1
  // columns: the ridge is what makes the normal equations solvable.
  if (!(ridge > 0))
    throw std::invalid_argument("LinearBaseline::fit: ridge must be > 0, got " +
                                std::to_string(ridge));
  const auto x = features(history);  // [M, 2L + 1]
  const auto y =
      future.to(torch::kFloat64).permute({0, 2, 1}).reshape({x.size(0), future.size(1)});  // [M, H]
  const auto gram = x.t().mm(x) + ridge * torch::eye(x.size(1), x.options());  // [2L + 1, 2L + 1]
  weights_ = torch::linalg_solve(gram, x.t().mm(y));                           // [2L + 1, H]
}

torch::Tensor LinearBaseline::predict(const torch::Tensor& history) const {
  if (!fitted()) throw std::logic_error("LinearBaseline::predict: the model is not fitted");
  check_history("LinearBaseline::predict", history, weights_.size(1));
  if (2 * history.size(1) + 1 != weights_.size(0))
    throw std::invalid_argument("LinearBaseline::predict: fitted for a lookback of " +
                                std::to_string((weights_.size(0) - 1) / 2) + ", got " +
                                std::to_string(history.size(1)));
  const std::int64_t n = history.size(0), channels = history.size(2);
  const auto x = features(history);              // [M, 2L + 1]
  const auto y = x.mm(weights_.to(x.device()));  // [M, H]
  const auto dtype = history.is_floating_point() ? history.scalar_type() : torch::kFloat32;
  return y.reshape({n, channels, y.size(1)})
      .permute({0, 2, 1})
      .to(dtype)
      .contiguous();  // [N, H, C]
}

}  // namespace latentcast
