// Quantiles, CRPS and the summary scores of forecasts. The samples are sorted once along the sample
// dimension and both the quantiles and CRPS are read from the sorted order.
#include "model/metrics.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace latentcast {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

void check_samples(const char* where, const torch::Tensor& samples, const torch::Tensor& truth) {
  if (samples.dim() < 1 || samples.size(0) < 1 || truth.sizes() != samples.sizes().slice(1))
    throw std::invalid_argument(std::string(where) +
                                ": expected samples [K >= 1, ...] and truth [...], got " +
                                shape_of(samples) + " and " + shape_of(truth));
}

torch::Tensor sorted_samples(const torch::Tensor& samples) {
  const auto x = samples.is_floating_point() ? samples : samples.to(torch::kFloat32);
  return std::get<0>(torch::sort(x, /*dim=*/0));
}

// The q-quantile along dim 0 of sorted samples with linear interpolation between order statistics
// (torch::quantile's "linear", numpy's default): position q (K - 1).
torch::Tensor quantile_of_sorted(const torch::Tensor& sorted, double q) {
  const std::int64_t k = sorted.size(0);
  const double pos = q * double(k - 1);
  const auto lo = std::min<std::int64_t>(static_cast<std::int64_t>(pos), k - 1);
  const auto hi = std::min<std::int64_t>(lo + 1, k - 1);
  return torch::lerp(sorted[lo], sorted[hi], pos - double(lo));
}

Quantiles quantiles_of_sorted(const torch::Tensor& sorted) {
  return {quantile_of_sorted(sorted, 0.05), quantile_of_sorted(sorted, 0.25),
          quantile_of_sorted(sorted, 0.5), quantile_of_sorted(sorted, 0.75),
          quantile_of_sorted(sorted, 0.95)};
}

// Ref: Gneiting & Raftery 2007 (JASA), the kernel form of the CRPS:
//   CRPS(F, y) = E|X - y| - 0.5 E|X - X'|, F the empirical distribution of the K samples.
// For ascending x_(0), ..., x_(K-1): sum_{k,l} |x_k - x_l| = 2 sum_i (2i - K + 1) x_(i), so
// 0.5 E|X - X'| = sum_i (2i - K + 1) x_(i) / K^2, O(K) after sorting instead of O(K^2).
torch::Tensor crps_of_sorted(const torch::Tensor& sorted, const torch::Tensor& truth) {
  const std::int64_t k = sorted.size(0);
  const auto spread_to_truth = (sorted - truth.unsqueeze(0)).abs().mean(0);  // [...]
  std::vector<std::int64_t> weight_shape(static_cast<std::size_t>(sorted.dim()), 1);
  weight_shape[0] = k;
  const auto weights = (2 * torch::arange(k, sorted.options()) - double(k - 1))
                           .reshape(weight_shape);                     // [K, 1, ...]
  const auto half_spread = (weights * sorted).sum(0) / double(k * k);  // [...]
  return spread_to_truth - half_spread;
}

// Means in float64: a float32 running sum over millions of errors drifts in the digits we report.
double mean_of(const torch::Tensor& t) {
  return t.to(torch::kFloat64).mean().item<double>();
}

double share_inside(const torch::Tensor& truth, const torch::Tensor& lo, const torch::Tensor& hi) {
  return mean_of(torch::logical_and(truth >= lo, truth <= hi));
}

}  // namespace

Quantiles quantiles(const torch::Tensor& samples) {
  if (samples.dim() < 1 || samples.size(0) < 1)
    throw std::invalid_argument("quantiles: expected samples [K >= 1, ...], got " +
                                shape_of(samples));
  return quantiles_of_sorted(sorted_samples(samples));
}

torch::Tensor crps(const torch::Tensor& samples, const torch::Tensor& truth) {
  check_samples("crps", samples, truth);
  const auto sorted = sorted_samples(samples);
  return crps_of_sorted(sorted, truth.to(sorted.options()));
}

Scores score_samples(const torch::Tensor& samples, const torch::Tensor& truth) {
  check_samples("score_samples", samples, truth);
  const auto sorted = sorted_samples(samples);
  const auto y = truth.to(sorted.options());
  const Quantiles q = quantiles_of_sorted(sorted);
  const auto err = q.median - y;
  Scores s;
  s.mse = mean_of(err.square());
  s.mae = mean_of(err.abs());
  s.crps = mean_of(crps_of_sorted(sorted, y));
  s.coverage50 = share_inside(y, q.q25, q.q75);
  s.coverage90 = share_inside(y, q.q05, q.q95);
  return s;
}

Scores score_point(const torch::Tensor& prediction, const torch::Tensor& truth) {
  if (prediction.sizes() != truth.sizes())
    throw std::invalid_argument("score_point: prediction " + shape_of(prediction) + " and truth " +
                                shape_of(truth) + " differ in shape");
  const auto err = prediction.to(torch::kFloat64) - truth.to(torch::kFloat64);
  Scores s;
  s.mse = mean_of(err.square());
  s.mae = mean_of(err.abs());
  s.crps = s.mae;  // the CRPS of a point mass is the absolute error
  return s;
}

}  // namespace latentcast
