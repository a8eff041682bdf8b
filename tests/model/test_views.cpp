// Vision views: period detection, shapes, SEG invertibility and least-squares readout, GAF/RP
// against plain loops, and the constructor's size errors.
#include <torch/torch.h>

#include "tests/support/check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "model/views.h"

using namespace latentcast;

namespace {

const torch::Device kCpu(torch::kCPU);
const double kTwoPi = 2 * std::acos(-1.0);

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// The bilinear align_corners map [S, n] built by resizing the identity, independently of the
// encoder's own construction.
torch::Tensor interp_map(std::int64_t size, std::int64_t n) {
  namespace F = torch::nn::functional;
  return F::interpolate(torch::eye(n, torch::kFloat64).unsqueeze(1),
                        F::InterpolateFuncOptions()
                            .size(std::vector<std::int64_t>{size})
                            .mode(torch::kLinear)
                            .align_corners(true))
      .squeeze(1)
      .t();  // [S, n]
}

}  // namespace

TEST_CASE("detect_period finds a 24-step cycle in noise") {
  torch::manual_seed(3);
  const auto t = torch::arange(2000, torch::kFloat64).unsqueeze(1);                 // [T, 1]
  const auto phase = torch::tensor({0.0, 1.0, 2.5}, torch::kFloat64).unsqueeze(0);  // [1, C]
  const auto series =
      torch::sin(kTwoPi * t / 24 + phase) + 0.5 * torch::randn({2000, 3}, torch::kFloat64);
  EXPECT_EQ(detect_period(series, 96), 24);
  EXPECT_EQ(detect_period(series.to(torch::kFloat32), 200), 24);
  // A weekly cycle under a stronger daily one is found when the daily one is out of range.
  const auto two = torch::sin(kTwoPi * t / 7) + 3 * torch::sin(kTwoPi * t / 24);
  EXPECT_EQ(detect_period(two, 12), 7);
}

TEST_CASE("detect_period returns 0 without a clear peak") {
  for (int seed = 0; seed < 10; ++seed) {
    torch::manual_seed(seed);
    EXPECT_EQ(detect_period(torch::randn({2000, 1}), 96), 0);
    EXPECT_EQ(detect_period(torch::randn({2000, 3}), 96), 0);
  }
  EXPECT_EQ(detect_period(torch::full({500, 2}, 4.0), 96), 0);  // constant
  EXPECT_EQ(detect_period(torch::randn({3, 1}), 96), 0);        // too short
}

TEST_CASE("views have shape [B, 3, S, S]") {
  torch::manual_seed(4);
  for (std::int64_t s : {16, 32, 64}) {
    const ViewEncoder enc(96, 12, s, kCpu);
    const auto img = enc.encode(torch::randn({5, 96}));
    EXPECT(img.sizes() == torch::IntArrayRef({5, 3, s, s}));
    EXPECT_EQ(img.scalar_type(), torch::kFloat32);
    EXPECT(enc.decode_seg(img).sizes() == torch::IntArrayRef({5, 96}));
  }
}

TEST_CASE("SEG encode then decode returns the segment") {
  torch::manual_seed(5);
  struct Case {
    std::int64_t length, period, size;
  };
  // Multiples and non-multiples of p, an exact fit (max(r, p) = S), one fold row (r = 1), a single
  // column (p = 1), and the default fold.
  const Case cases[] = {{96, 24, 32}, {96, 24, 24}, {100, 24, 32}, {37, 5, 16}, {192, 24, 64},
                        {50, 50, 64}, {7, 1, 16},   {96, 0, 16},   {45, 7, 256}};
  for (const Case& c : cases) {
    const ViewEncoder enc(c.length, c.period, c.size, kCpu);
    const auto x = torch::randn({4, c.length});
    const auto back = enc.decode_seg(enc.encode(x));
    const double err = max_abs_diff(back, x);
    if (!(err < 1e-4))
      std::fprintf(stderr, "  T = %lld, p = %lld, S = %lld: error %g\n", (long long)c.length,
                   (long long)c.period, (long long)c.size, err);
    EXPECT(err < 1e-4);
  }
}

TEST_CASE("SEG is the bilinear resize of the left-padded fold") {
  torch::manual_seed(6);
  namespace F = torch::nn::functional;
  const std::int64_t t = 30, p = 7, r = 5, s = 20;  // pad 5 * 7 - 30 = 5
  const ViewEncoder enc(t, p, s, kCpu);
  const auto x = torch::randn({3, t});
  const auto padded = torch::cat({x.slice(1, 0, 1).expand({3, r * p - t}), x}, 1);
  const auto fold = (padded / ViewEncoder::kSegScale).view({3, 1, r, p});
  const auto expected = F::interpolate(fold, F::InterpolateFuncOptions()
                                                 .size(std::vector<std::int64_t>{s, s})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(true))
                            .squeeze(1);  // [B, S, S]
  EXPECT(max_abs_diff(enc.encode(x).select(1, 0), expected) < 1e-5);
}

TEST_CASE("decode_seg is the least-squares readout of any image") {
  torch::manual_seed(7);
  const std::int64_t t = 96, p = 24, r = 4, s = 32;
  const ViewEncoder enc(t, p, s, kCpu);
  const auto a = interp_map(s, r);  // [S, r]
  const auto b = interp_map(s, p);  // [S, p]
  const auto x = torch::randn({2, t});
  const auto img = enc.encode(x);

  // An image orthogonal to the range of A (left) or of B (right) changes nothing.
  const auto eye = torch::eye(s, torch::kFloat64);
  const auto perp_a = eye - a.mm(torch::linalg_pinv(a, 1e-15, false));  // [S, S]
  const auto perp_b = eye - b.mm(torch::linalg_pinv(b, 1e-15, false));  // [S, S]
  const auto z = torch::randn({2, s, s}, torch::kFloat64);
  auto noisy = img.clone();
  noisy.select(1, 0).add_(
      (torch::matmul(perp_a, z) + torch::matmul(z, perp_b)).to(torch::kFloat32));
  noisy.select(1, 1).add_(5.0);  // GAF and RP channels play no part
  EXPECT(max_abs_diff(enc.decode_seg(noisy), x) < 1e-4);

  // For an arbitrary image the residual satisfies the normal equations A^T (Y - A X B^T) B = 0,
  // where X is the decoded fold in SEG units (T is a multiple of p: no padding).
  const auto y = torch::randn({2, 1, s, s});
  const auto fold =
      (enc.decode_seg(y) / ViewEncoder::kSegScale).to(torch::kFloat64).view({2, r, p});
  const auto resid =
      y.select(1, 0).to(torch::kFloat64) - torch::matmul(torch::matmul(a, fold), b.t());
  const auto normal = torch::matmul(torch::matmul(a.t(), resid), b);  // [B, r, p]
  EXPECT(normal.abs().max().item<double>() < 1e-4);
}

TEST_CASE("GAF and RP match plain loops when S = T and stay in [-1, 1]") {
  torch::manual_seed(8);
  const std::int64_t t = 20;
  const ViewEncoder enc(t, 5, t, kCpu);
  const auto x = torch::randn({2, t}, torch::kFloat64);
  const auto img = enc.encode(x).contiguous();
  const auto xa = x.accessor<double, 2>();
  const auto ia = img.accessor<double, 4>();
  for (std::int64_t n = 0; n < 2; ++n) {
    double lo = xa[n][0], hi = xa[n][0];
    for (std::int64_t i = 0; i < t; ++i) {
      lo = std::min(lo, xa[n][i]);
      hi = std::max(hi, xa[n][i]);
    }
    double worst_gaf = 0, worst_rp = 0;
    for (std::int64_t i = 0; i < t; ++i) {
      for (std::int64_t j = 0; j < t; ++j) {
        const double ui = (2 * xa[n][i] - hi - lo) / (hi - lo);
        const double uj = (2 * xa[n][j] - hi - lo) / (hi - lo);
        const double gaf = std::cos(std::acos(ui) + std::acos(uj));
        const double rp = 2 * std::fabs(xa[n][i] - xa[n][j]) / (hi - lo) - 1;
        worst_gaf = std::max(worst_gaf, std::fabs(ia[n][1][i][j] - gaf));
        worst_rp = std::max(worst_rp, std::fabs(ia[n][2][i][j] - rp));
      }
    }
    EXPECT(worst_gaf < 1e-9);
    EXPECT(worst_rp < 1e-9);
  }

  // Resized, with a flat segment in the batch: still in [-1, 1], the flat one -1 everywhere.
  const ViewEncoder big(96, 24, 64, kCpu);
  auto segs = torch::randn({3, 96}) * 4;
  segs[2].fill_(1.5);
  const auto views = big.encode(segs).slice(1, 1, 3);  // [B, 2, S, S]
  EXPECT(views.min().item<double>() >= -1 - 1e-6);
  EXPECT(views.max().item<double>() <= 1 + 1e-6);
  EXPECT(torch::isfinite(views).all().item<bool>());
  EXPECT(max_abs_diff(views[2], torch::full({2, 64, 64}, -1.0)) < 1e-6);
}

TEST_CASE("GAF resized equals the bilinear resize of the full T x T field") {
  torch::manual_seed(9);
  namespace F = torch::nn::functional;
  const std::int64_t t = 48;
  for (std::int64_t s : {16, 64}) {
    const ViewEncoder enc(t, 12, s, kCpu);
    const auto x = torch::randn({2, t}, torch::kFloat64);
    const auto lo = std::get<0>(x.min(1, true)), hi = std::get<0>(x.max(1, true));
    const auto u = (2 * x - hi - lo) / (hi - lo);
    const auto v = (1 - u * u).clamp_min(0).sqrt();  // |u| may exceed 1 by an ulp at the extremes
    const auto full =
        u.unsqueeze(2) * u.unsqueeze(1) - v.unsqueeze(2) * v.unsqueeze(1);  // [B, T, T]
    const auto expected =
        F::interpolate(full.unsqueeze(1), F::InterpolateFuncOptions()
                                              .size(std::vector<std::int64_t>{s, s})
                                              .mode(torch::kBilinear)
                                              .align_corners(true))
            .squeeze(1);
    EXPECT(max_abs_diff(enc.encode(x).select(1, 1), expected) < 1e-9);
  }
}

TEST_CASE("constructor errors and period defaults") {
  EXPECT_THROWS_WITH(ViewEncoder(96, 24, 16, kCpu), std::invalid_argument,
                     "model.image_size: S = 16 is too small for a segment of T = 96 rows with "
                     "period 24 (needs at least max(r, p) = 24)");
  EXPECT_THROWS_WITH(ViewEncoder(96, 4, 16, kCpu), std::invalid_argument,
                     "needs at least max(r, p) = 24");  // r = 24 rows
  EXPECT_THROWS_WITH(ViewEncoder(400, 0, 16, kCpu), std::invalid_argument, "default fold");
  EXPECT_THROWS_WITH(ViewEncoder(96, -1, 16, kCpu), std::invalid_argument, "model.period");
  EXPECT_THROWS_WITH(ViewEncoder(96, 24, 1, kCpu), std::invalid_argument, "model.image_size");
  // Period 0 or longer than the segment: the near-square fold ceil(sqrt(T)).
  EXPECT_EQ(ViewEncoder(96, 0, 16, kCpu).period(), 10);
  EXPECT_EQ(ViewEncoder(96, 97, 16, kCpu).period(), 10);
  EXPECT_EQ(ViewEncoder(96, 96, 96, kCpu).period(), 96);
  const ViewEncoder enc(96, 24, 32, kCpu);
  EXPECT_THROWS_WITH(enc.encode(torch::zeros({2, 95})), std::invalid_argument, "[B, 96]");
  EXPECT_THROWS_WITH(enc.decode_seg(torch::zeros({2, 3, 16, 16})), std::invalid_argument,
                     "[B, >=1, 32, 32]");
}

LCTEST_MAIN
