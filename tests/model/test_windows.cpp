// Scaler (fitted on the training rows, population std, exact inverse), table tensors and windows
// (counts from data::window_count, contents lined up with the source rows).
#include <torch/torch.h>

#include "tests/support/check.h"

#include <stdexcept>

#include "model/data/windows.h"

using namespace latentcast;
using namespace latentcast::data;

namespace {

// values[t, c] = 10 t + c: every cell names its row and channel, exactly in float32.
torch::Tensor labelled(std::int64_t rows, std::int64_t channels) {
  return (10 * torch::arange(rows, torch::kFloat32).unsqueeze(1) +
          torch::arange(channels, torch::kFloat32).unsqueeze(0))
      .contiguous();  // [T, C]
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("scaler uses the population mean and std of the training rows") {
  torch::manual_seed(1);
  const auto values = torch::randn({200, 3}) * torch::tensor({1.0f, 5.0f, 0.1f}) + 7.0f;
  const SplitRows split = compute_split(200, SplitConfig{}, 24, 12);
  const auto train = values.slice(0, split.train.begin, split.train.end);
  const Scaler s = Scaler::fit(train);
  const auto t64 = train.to(torch::kFloat64);
  const auto mean = t64.mean(0);
  const auto pop_std = (t64 - mean).square().mean(0).sqrt();
  EXPECT(max_abs_diff(s.mean, mean) < 1e-5);
  EXPECT(max_abs_diff(s.std, pop_std) < 1e-5);
  EXPECT_EQ(s.mean.scalar_type(), torch::kFloat32);

  // Rows after the training split play no part: change them and the fit stays the same. (The
  // validation and test ranges start L rows earlier, inside the training rows, for their history.)
  auto changed = values.clone();
  changed.slice(0, split.train.end, 200).mul_(100).add_(3);
  const Scaler s2 = Scaler::fit(changed.slice(0, split.train.begin, split.train.end));
  EXPECT(torch::equal(s.mean, s2.mean));
  EXPECT(torch::equal(s.std, s2.std));

  // Training rows come out with mean 0 and population std 1.
  const auto z = s.transform(train).to(torch::kFloat64);
  EXPECT(z.mean(0).abs().max().item<double>() < 1e-5);
  EXPECT(max_abs_diff(z.square().mean(0).sqrt(), torch::ones({3})) < 1e-5);
}

TEST_CASE("scaler inverse undoes transform on any leading shape") {
  torch::manual_seed(2);
  const Scaler s = Scaler::fit(torch::randn({50, 4}) * 3 + 2);
  const auto x = torch::randn({6, 8, 4}) * 10;  // [N, L, C]
  EXPECT(max_abs_diff(s.inverse(s.transform(x)), x) < 1e-4);
  const auto x64 = x.to(torch::kFloat64);  // other dtypes follow the input
  EXPECT_EQ(s.transform(x64).scalar_type(), torch::kFloat64);
}

TEST_CASE("scaler keeps a constant column finite") {
  auto values = torch::randn({40, 2});
  values.select(1, 1).fill_(5.0);
  const Scaler s = Scaler::fit(values);
  EXPECT_NEAR(s.std[1].item<double>(), 1.0, 0.0);
  const auto z = s.transform(values);
  EXPECT(torch::isfinite(z).all().item<bool>());
  EXPECT_NEAR(z.select(1, 1).abs().max().item<double>(), 0.0, 0.0);
}

TEST_CASE("table_tensor takes the named columns in the order asked") {
  Table t;
  t.file = "t.csv";
  t.numeric_names = {"a", "b", "c"};
  t.values = {{1, 2, 3}, {10, 20, 30}, {100, 200, 300}};
  const auto x = table_tensor(t, {"c", "a"});
  REQUIRE(x.sizes() == torch::IntArrayRef({3, 2}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT(x.is_contiguous());
  EXPECT(torch::equal(x, torch::tensor({{100.0f, 1.0f}, {200.0f, 2.0f}, {300.0f, 3.0f}})));
  EXPECT_THROWS_WITH(table_tensor(t, {"a", "z"}), std::invalid_argument,
                     "no numeric column 'z' in t.csv");
}

TEST_CASE("window counts match window_count and rows line up with the source") {
  const auto values = labelled(300, 3);
  struct Case {
    RowRange range;
    int lookback, horizon, stride;
  };
  const Case cases[] = {{{0, 300}, 24, 12, 1},
                        {{17, 250}, 24, 12, 5},
                        {{100, 136}, 24, 12, 1},
                        {{0, 300}, 96, 96, 7},
                        {{50, 300}, 1, 1, 3}};
  for (const Case& c : cases) {
    const WindowTensors w = make_windows(values, c.range, c.lookback, c.horizon, c.stride);
    const std::int64_t n = window_count(c.range, c.lookback, c.horizon, c.stride);
    REQUIRE(n > 0);
    REQUIRE(w.history.sizes() == torch::IntArrayRef({n, c.lookback, 3}));
    REQUIRE(w.future.sizes() == torch::IntArrayRef({n, c.horizon, 3}));
    REQUIRE(std::int64_t(w.start.size()) == n);
    EXPECT(w.history.is_contiguous());
    EXPECT(w.future.is_contiguous());
    EXPECT_EQ(w.start.front(), c.range.begin);
    EXPECT_EQ(w.start.back(), c.range.begin + (n - 1) * c.stride);
    EXPECT(w.start.back() + c.lookback + c.horizon <= c.range.end);
    // Window i, step j, channel k holds row start_i + j: 10 (start_i + j) + k.
    const auto start = torch::tensor(w.start, torch::kFloat32).view({n, 1, 1});
    const auto ch = torch::arange(3, torch::kFloat32).view({1, 1, 3});
    const auto steps_h = torch::arange(c.lookback, torch::kFloat32).view({1, -1, 1});
    const auto steps_f = torch::arange(c.horizon, torch::kFloat32).view({1, -1, 1}) + c.lookback;
    EXPECT(torch::equal(w.history, 10 * (start + steps_h) + ch));
    EXPECT(torch::equal(w.future, 10 * (start + steps_f) + ch));
  }
}

TEST_CASE("a range shorter than lookback + horizon gives no windows") {
  const WindowTensors w = make_windows(labelled(100, 2), {10, 45}, 24, 12, 1);
  EXPECT_EQ(w.history.size(0), 0);
  EXPECT(w.history.sizes() == torch::IntArrayRef({0, 24, 2}));
  EXPECT(w.future.sizes() == torch::IntArrayRef({0, 12, 2}));
  EXPECT(w.start.empty());
}

TEST_CASE("make_windows rejects bad settings") {
  const auto values = labelled(100, 2);
  EXPECT_THROWS_WITH(make_windows(values, {0, 100}, 24, 12, 0), std::invalid_argument, "stride");
  EXPECT_THROWS_WITH(make_windows(values, {0, 100}, 24, 0, 1), std::invalid_argument, "horizon");
  EXPECT_THROWS_WITH(make_windows(values, {50, 120}, 24, 12, 1), std::invalid_argument,
                     "outside a series of 100 rows");
}

LCTEST_MAIN
