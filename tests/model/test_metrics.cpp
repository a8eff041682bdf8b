// Forecast scores: CRPS by hand and against the O(K^2) definition, quantiles against
// torch::quantile, coverage and point scores.
#include <torch/torch.h>

#include "tests/support/check.h"

#include <stdexcept>
#include <vector>

#include "model/metrics.h"

using namespace latentcast;

namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// CRPS straight from its definition E|X - y| - 0.5 E|X - X'|, with all K^2 pairs.
torch::Tensor crps_brute_force(const torch::Tensor& samples, const torch::Tensor& truth) {
  const auto to_truth = (samples - truth.unsqueeze(0)).abs().mean(0);
  const auto pairs =
      (samples.unsqueeze(0) - samples.unsqueeze(1)).abs().mean(std::vector<std::int64_t>{0, 1});
  return to_truth - 0.5 * pairs;
}

}  // namespace

TEST_CASE("crps of samples {1, 2, 3} by hand") {
  const auto samples = torch::tensor({3.0, 1.0, 2.0}, torch::kFloat64).view({3, 1});
  // y = 2: E|X - y| = 2/3, E|X - X'| = 8/9, CRPS = 2/3 - 4/9 = 2/9.
  EXPECT_NEAR(crps(samples, torch::tensor({2.0}, torch::kFloat64)).item<double>(), 2.0 / 9, 1e-12);
  // y = 0: E|X - y| = 2, CRPS = 2 - 4/9 = 14/9.
  EXPECT_NEAR(crps(samples, torch::tensor({0.0}, torch::kFloat64)).item<double>(), 14.0 / 9, 1e-12);
}

TEST_CASE("crps equals the O(K^2) definition on random data") {
  torch::manual_seed(10);
  for (std::int64_t k : {2, 7, 64}) {
    const auto samples = torch::randn({k, 5, 4, 3}, torch::kFloat64) * 2 + 0.3;  // [K, N, H, C]
    const auto truth = torch::randn({5, 4, 3}, torch::kFloat64);
    const auto fast = crps(samples, truth);
    REQUIRE(fast.sizes() == truth.sizes());
    EXPECT(max_abs_diff(fast, crps_brute_force(samples, truth)) < 1e-12);
    // float32 works too, to float32 accuracy.
    EXPECT(max_abs_diff(crps(samples.to(torch::kFloat32), truth.to(torch::kFloat32)),
                        crps_brute_force(samples, truth)) < 1e-5);
  }
}

TEST_CASE("crps of a single sample is the absolute error") {
  const auto truth = torch::tensor({1.0, -2.0, 0.5});
  const auto sample = torch::tensor({{1.5, 0.0, 0.5}});
  EXPECT(max_abs_diff(crps(sample.to(torch::kFloat32), truth), torch::tensor({0.5, 2.0, 0.0})) <
         1e-7);
}

TEST_CASE("quantiles equal torch::quantile with linear interpolation") {
  torch::manual_seed(11);
  // float64: torch::quantile computes the interpolation weights in the input's dtype, so in float32
  // it differs from ours (computed in double) by a few ulps of the gap between order statistics.
  for (std::int64_t k : {1, 2, 20, 101}) {
    const auto samples = torch::randn({k, 3, 4, 2}, torch::kFloat64);
    const Quantiles q = quantiles(samples);
    const torch::Tensor* got[] = {&q.q05, &q.q25, &q.median, &q.q75, &q.q95};
    const double levels[] = {0.05, 0.25, 0.5, 0.75, 0.95};
    for (int i = 0; i < 5; ++i) {
      const auto ref = torch::quantile(samples, levels[i], /*dim=*/0);
      REQUIRE(got[i]->sizes() == ref.sizes());
      EXPECT(max_abs_diff(*got[i], ref) < 1e-12);
    }
  }
}

TEST_CASE("score_samples: median point forecast and inclusive interval coverage") {
  // Every cell has the samples 0, 1, ..., 100: q05 = 5, q25 = 25, median = 50, q75 = 75, q95 = 95.
  const auto samples =
      torch::arange(101, torch::kFloat32).view({101, 1, 1, 1}).expand({101, 1, 4, 1});
  // 50 inside both; 25 on the 50 % edge (inside); 20 inside only the 90 %; 2 outside both.
  const auto truth = torch::tensor({50.0f, 25.0f, 20.0f, 2.0f}).view({1, 4, 1});
  const Scores s = score_samples(samples, truth);
  EXPECT_NEAR(s.mse, (0.0 + 625 + 900 + 2304) / 4, 1e-9);
  EXPECT_NEAR(s.mae, (0.0 + 25 + 30 + 48) / 4, 1e-9);
  EXPECT_NEAR(s.coverage50, 0.5, 1e-12);
  EXPECT_NEAR(s.coverage90, 0.75, 1e-12);
  EXPECT_NEAR(s.crps, crps(samples, truth).to(torch::kFloat64).mean().item<double>(), 1e-6);
}

TEST_CASE("score_point: crps is the absolute error, no coverage") {
  const auto pred = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2, 1});
  const auto truth = torch::tensor({1.0f, 0.0f, 4.0f, 4.0f}).view({2, 2, 1});
  const Scores s = score_point(pred, truth);
  EXPECT_NEAR(s.mse, (0.0 + 4 + 1 + 0) / 4, 1e-12);
  EXPECT_NEAR(s.mae, (0.0 + 2 + 1 + 0) / 4, 1e-12);
  EXPECT_NEAR(s.crps, s.mae, 0.0);
  EXPECT_EQ(s.coverage50, -1.0);
  EXPECT_EQ(s.coverage90, -1.0);
}

TEST_CASE("mismatched shapes are rejected") {
  const auto samples = torch::zeros({8, 2, 3, 1});
  EXPECT_THROWS_WITH(crps(samples, torch::zeros({2, 3, 2})), std::invalid_argument, "crps");
  EXPECT_THROWS_WITH(score_samples(samples, torch::zeros({3, 3, 1})), std::invalid_argument,
                     "score_samples");
  EXPECT_THROWS_WITH(score_point(torch::zeros({2, 3, 1}), torch::zeros({2, 3, 2})),
                     std::invalid_argument, "differ in shape");
}

LCTEST_MAIN
