// Baselines: last value and seasonal naive on hand cases; the closed-form DLinear recovers a known
// linear system and refuses to predict before it is fitted.
#include <torch/torch.h>

#include "tests/support/check.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include "model/baselines.h"

using namespace latentcast;

namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// One window of one channel holding `values`: [1, L, 1].
torch::Tensor one_series(std::vector<float> values) {
  const auto n = std::int64_t(values.size());
  return torch::tensor(values).view({1, n, 1});
}

}  // namespace

TEST_CASE("last value repeats the last row of each window and channel") {
  const auto history = torch::tensor({1.0f, 10.0f, 2.0f, 20.0f, 3.0f, 30.0f}).view({1, 3, 2});
  const auto f = last_value_forecast(history, 4);
  REQUIRE(f.sizes() == torch::IntArrayRef({1, 4, 2}));
  EXPECT(f.is_contiguous());
  EXPECT(torch::equal(f, torch::tensor({3.0f, 30.0f}).view({1, 1, 2}).expand({1, 4, 2})));
}

TEST_CASE("seasonal naive repeats the last period cyclically") {
  const auto h = one_series({1, 2, 3, 4, 5});
  EXPECT(torch::equal(seasonal_naive_forecast(h, 5, 2), one_series({4, 5, 4, 5, 4})));
  EXPECT(torch::equal(seasonal_naive_forecast(h, 4, 3), one_series({3, 4, 5, 3})));
  // Clamped to [1, L]: period 0 is the last value, a period beyond L repeats the whole history.
  EXPECT(torch::equal(seasonal_naive_forecast(h, 3, 0), one_series({5, 5, 5})));
  EXPECT(torch::equal(seasonal_naive_forecast(h, 7, 10), one_series({1, 2, 3, 4, 5, 1, 2})));
  // Windows and channels are independent.
  const auto two =
      torch::stack({torch::arange(6, torch::kFloat32), 10 + torch::arange(6, torch::kFloat32)}, 1)
          .unsqueeze(0);  // [1, 6, 2]
  const auto f = seasonal_naive_forecast(two, 3, 2);
  EXPECT(torch::equal(f, torch::tensor({4.0f, 14.0f, 5.0f, 15.0f, 4.0f, 14.0f}).view({1, 3, 2})));
  EXPECT_THROWS_WITH(seasonal_naive_forecast(h, 0, 2), std::invalid_argument, "horizon");
}

TEST_CASE("linear baseline recovers a known linear system") {
  torch::manual_seed(12);
  const std::int64_t lookback = 32, horizon = 8, channels = 3;
  const auto w_true = torch::randn({lookback, horizon}) / std::sqrt(double(lookback));  // [L, H]
  const auto bias = 0.7f;
  // future[n, :, c] = history[n, :, c] @ W_true + bias, the same map for every channel.
  auto make = [&](std::int64_t n, double noise) {
    const auto history = torch::randn({n, lookback, channels});
    const auto future = torch::matmul(history.transpose(1, 2), w_true).transpose(1, 2) + bias +
                        noise * torch::randn({n, horizon, channels});
    return std::make_pair(history, future);
  };
  const auto [train_h, train_f] = make(300, 1e-4);
  LinearBaseline model;
  EXPECT(!model.fitted());
  model.fit(train_h, train_f);
  REQUIRE(model.fitted());
  const auto [test_h, test_f] = make(50, 0.0);
  const auto pred = model.predict(test_h);
  REQUIRE(pred.sizes() == torch::IntArrayRef({50, horizon, channels}));
  EXPECT_EQ(pred.scalar_type(), torch::kFloat32);
  const double err = max_abs_diff(pred, test_f);
  EXPECT(err < 1e-3);
  if (!(err < 1e-3)) std::fprintf(stderr, "  max error %g\n", err);
}

TEST_CASE("linear baseline fits a trend-following rule with short lookbacks") {
  // L shorter than the moving-average kernel: the edge padding still gives L trend values.
  torch::manual_seed(13);
  const auto history = torch::randn({400, 6, 2});
  const auto future = history.slice(1, 5, 6).expand({400, 3, 2}) * 2.0;  // 2 x last value
  LinearBaseline model;
  model.fit(history, future);
  const auto fresh = torch::randn({20, 6, 2});
  EXPECT(max_abs_diff(model.predict(fresh), fresh.slice(1, 5, 6).expand({20, 3, 2}) * 2.0) < 1e-3);
}

TEST_CASE("linear baseline errors") {
  LinearBaseline model;
  EXPECT_THROWS_WITH(model.predict(torch::zeros({2, 8, 1})), std::logic_error, "not fitted");
  EXPECT_THROWS_WITH(model.fit(torch::zeros({2, 8, 1}), torch::zeros({3, 4, 1})),
                     std::invalid_argument, "future");
  EXPECT_THROWS_WITH(model.fit(torch::randn({20, 8, 1}), torch::randn({20, 4, 1}), 0.0),
                     std::invalid_argument, "ridge");
  model.fit(torch::randn({20, 8, 1}), torch::randn({20, 4, 1}));
  EXPECT_THROWS_WITH(model.predict(torch::zeros({2, 9, 1})), std::invalid_argument,
                     "lookback of 8");
}

LCTEST_MAIN
