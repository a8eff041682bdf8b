// Windows and per-channel scaling of a series as tensors: the one place where rows of the table
// become the [N, L, C] / [N, H, C] batches that training, evaluation and the baselines share.
#include "model/data/windows.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace latentcast::data {
namespace {

// Below this a column counts as constant and keeps a scale of 1, so it maps to 0 on the training
// rows and later values stay finite and in the original units. Ref: scikit-learn StandardScaler
// (_handle_zeros_in_scale), whose fit the ETT protocol uses.
constexpr double kStdFloor = 1e-8;

}  // namespace

Scaler Scaler::fit(const torch::Tensor& train_values) {
  if (train_values.dim() != 2 || train_values.size(0) < 1)
    throw std::invalid_argument("Scaler::fit: expected [T, C] values with T >= 1");
  // float64 sums: a float32 mean over tens of thousands of rows loses digits that the std needs.
  const auto x = train_values.to(torch::kFloat64);
  const auto mean = x.mean(0);  // [C]
  // Population std (divisor T), as StandardScaler computes it.
  auto scale = (x - mean).square().mean(0).sqrt();  // [C]
  scale = torch::where(scale < kStdFloor, torch::ones_like(scale), scale);
  const auto dtype =
      train_values.is_floating_point() ? train_values.scalar_type() : torch::kFloat32;
  return {mean.to(dtype), scale.to(dtype)};
}

torch::Tensor Scaler::transform(const torch::Tensor& x) const {
  return (x - mean.to(x.options())) / std.to(x.options());
}

torch::Tensor Scaler::inverse(const torch::Tensor& x) const {
  return x * std.to(x.options()) + mean.to(x.options());
}

torch::Tensor table_tensor(const Table& table, const std::vector<std::string>& columns) {
  const auto rows = table.rows();
  const auto channels = static_cast<std::int64_t>(columns.size());
  // Column-major like the table, so each column is one contiguous copy.
  auto out = torch::empty({channels, rows}, torch::kFloat64);  // [C, T]
  for (std::int64_t c = 0; c < channels; ++c) {
    const int j = table.numeric_index(columns[c]);
    if (j < 0)
      throw std::invalid_argument("table_tensor: no numeric column '" + columns[c] + "' in " +
                                  table.file);
    std::memcpy(out[c].data_ptr<double>(), table.values[j].data(), sizeof(double) * rows);
  }
  return out.t().to(torch::kFloat32).contiguous();  // [T, C]
}

WindowTensors make_windows(const torch::Tensor& values, const RowRange& range, int lookback,
                           int horizon, int stride) {
  if (values.dim() != 2) throw std::invalid_argument("make_windows: expected [T, C] values");
  if (lookback < 1 || horizon < 1 || stride < 1)
    throw std::invalid_argument("make_windows: lookback, horizon and stride must be >= 1, got " +
                                std::to_string(lookback) + ", " + std::to_string(horizon) + ", " +
                                std::to_string(stride));
  if (range.begin < 0 || range.end > values.size(0) || range.begin > range.end)
    throw std::invalid_argument("make_windows: rows [" + std::to_string(range.begin) + ", " +
                                std::to_string(range.end) + ") outside a series of " +
                                std::to_string(values.size(0)) + " rows");
  const std::int64_t channels = values.size(1);
  const std::int64_t span = std::int64_t(lookback) + horizon;
  const std::int64_t n = window_count(range, lookback, horizon, stride);
  WindowTensors w;
  if (n == 0) {
    w.history = torch::empty({0, lookback, channels}, values.options());
    w.future = torch::empty({0, horizon, channels}, values.options());
    return w;
  }
  // A strided view over the rows (no copy until the slices below are made contiguous).
  const auto all = values.slice(0, range.begin, range.end)
                       .unfold(0, span, stride)          // [N, C, L + H]
                       .permute({0, 2, 1});              // [N, L + H, C]
  w.history = all.slice(1, 0, lookback).contiguous();    // [N, L, C]
  w.future = all.slice(1, lookback, span).contiguous();  // [N, H, C]
  w.start.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) w.start[i] = range.begin + i * stride;
  return w;
}

}  // namespace latentcast::data
