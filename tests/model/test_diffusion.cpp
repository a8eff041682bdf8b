// Diffusion arithmetic: schedules, targets, and the samplers' determinism.
#include <torch/torch.h>

#include "model/diffusion.h"
#include "tests/support/check.h"

using namespace latentcast;

TEST_CASE("alpha_bar falls from near 1 towards 0 for both schedules") {
  for (const NoiseSchedule s : {NoiseSchedule::Linear, NoiseSchedule::Cosine}) {
    const Diffusion d(1000, s, Prediction::Epsilon);
    const torch::Tensor a = d.alpha_bar();
    EXPECT(a[0].item<double>() > 0.99);
    EXPECT(a[-1].item<double>() < 0.01);
    EXPECT((a.slice(0, 1) <= a.slice(0, 0, -1)).all().item<bool>());
  }
}

TEST_CASE("the model output implied by the truth gives back x0 and eps, for epsilon and v") {
  torch::manual_seed(0);
  // float64: at t = 999 the cosine schedule leaves sqrt(a) ~ 1e-2, which amplifies float32
  // rounding.
  const torch::Tensor x0 = torch::randn({6, 4, 8, 8}, torch::kFloat64),
                      eps = torch::randn({6, 4, 8, 8}, torch::kFloat64);
  const torch::Tensor t = torch::tensor({0, 10, 100, 500, 900, 999}, torch::kLong);
  for (const Prediction p : {Prediction::Epsilon, Prediction::V}) {
    const Diffusion d(1000, NoiseSchedule::Cosine, p);
    const auto noised = d.add_noise(x0, t, eps);
    const auto [x0_hat, eps_hat] = d.split_prediction(noised.x_t, t, noised.target);
    EXPECT((x0_hat - x0).abs().max().item<double>() < 1e-9);
    EXPECT((eps_hat - eps).abs().max().item<double>() < 1e-9);
  }
}

TEST_CASE("v target is sqrt(a) eps - sqrt(1 - a) x0") {
  const Diffusion d(100, NoiseSchedule::Linear, Prediction::V);
  const torch::Tensor x0 = torch::ones({1, 1}), eps = torch::full({1, 1}, 2.0);
  const torch::Tensor t = torch::tensor({50}, torch::kLong);
  const double a = d.alpha_bar()[50].item<double>();
  EXPECT_NEAR(d.add_noise(x0, t, eps).target.item<double>(), std::sqrt(a) * 2.0 - std::sqrt(1 - a),
              1e-6);
}

// A denoiser that knows the data is the constant 0.5: its x0 is always 0.5.
torch::Tensor oracle(const Diffusion& d, const torch::Tensor& x, const torch::Tensor& t) {
  const torch::Tensor a = d.alpha_bar().index_select(0, t).to(torch::kFloat32).view({-1, 1, 1, 1});
  return (x - a.sqrt() * 0.5) / (1 - a).sqrt();  // the eps implied by x0 = 0.5
}

TEST_CASE("DDIM with a fixed seed is deterministic; another seed differs only where noise enters") {
  const Diffusion d(1000, NoiseSchedule::Cosine, Prediction::Epsilon);
  const auto model = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return oracle(d, x, t);
  };
  const auto a = d.sample(model, {3, 2, 4, 4}, torch::kCPU, Sampler::Ddim, 20, 0.0, 7);
  const auto b = d.sample(model, {3, 2, 4, 4}, torch::kCPU, Sampler::Ddim, 20, 0.0, 7);
  EXPECT(torch::equal(a, b));
  // The oracle leads every sampler to the data.
  EXPECT((a - 0.5).abs().max().item<double>() < 1e-3);
  // DDPM draws fresh noise each step: with a model that does not pin x0, the seed shows.
  const auto blind = [](const torch::Tensor& x, const torch::Tensor&) {
    return torch::zeros_like(x);
  };
  const auto c = d.sample(blind, {3, 2, 4, 4}, torch::kCPU, Sampler::Ddpm, 20, 0.0, 7);
  EXPECT(torch::equal(c, d.sample(blind, {3, 2, 4, 4}, torch::kCPU, Sampler::Ddpm, 20, 0.0, 7)));
  EXPECT(!torch::equal(c, d.sample(blind, {3, 2, 4, 4}, torch::kCPU, Sampler::Ddpm, 20, 0.0, 8)));
}

TEST_CASE("sampler steps out of range are refused") {
  const Diffusion d(50, NoiseSchedule::Cosine, Prediction::Epsilon);
  const auto model = [&](const torch::Tensor& x, const torch::Tensor&) {
    return torch::zeros_like(x);
  };
  EXPECT_THROWS_WITH(d.sample(model, {1, 1, 2, 2}, torch::kCPU, Sampler::Ddim, 51, 0.0, 1),
                     std::invalid_argument, "forecasting.steps");
}

LCTEST_MAIN
