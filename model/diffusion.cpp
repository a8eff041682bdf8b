// Noise schedules, training targets and samplers of the latent diffusion.
#include "model/diffusion.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

namespace latentcast {
namespace {

constexpr double kCosineOffset = 0.008;  // s in Nichol & Dhariwal 2021, eq. 17
constexpr double kMaxBeta = 0.999;

torch::Tensor make_alpha_bar(std::int64_t steps, NoiseSchedule schedule) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor betas;
  if (schedule == NoiseSchedule::Linear) {
    // Ho et al. 2020 chose 1e-4..0.02 for T = 1000; scale so other T keep the same total noise.
    const double scale = 1000.0 / double(steps);
    betas = torch::linspace(1e-4 * scale, std::min(0.02 * scale, kMaxBeta), steps, f64);
  } else {
    const auto f = [](double u) {
      const double c = std::cos((u + kCosineOffset) / (1.0 + kCosineOffset) * M_PI / 2.0);
      return c * c;
    };
    std::vector<double> b(static_cast<std::size_t>(steps));
    for (std::int64_t i = 0; i < steps; ++i)
      b[std::size_t(i)] =
          std::min(1.0 - f(double(i + 1) / double(steps)) / f(double(i) / double(steps)), kMaxBeta);
    betas = torch::tensor(b, f64);
  }
  return torch::cumprod(1.0 - betas, 0);
}

}  // namespace

Diffusion::Diffusion(std::int64_t steps, NoiseSchedule schedule, Prediction prediction)
    : steps_(steps), prediction_(prediction) {
  if (steps < 2)
    throw std::invalid_argument("model.diffusion_steps: must be >= 2, got " +
                                std::to_string(steps));
  alpha_bar_ = make_alpha_bar(steps, schedule);
}

torch::Tensor Diffusion::gather(const torch::Tensor& values, const torch::Tensor& t,
                                const torch::Tensor& like) const {
  // [B] -> [B, 1, 1, ...] in the dtype and device of `like`.
  torch::Tensor v = values.index_select(0, t.to(torch::kCPU, torch::kLong));
  std::vector<std::int64_t> shape(static_cast<std::size_t>(like.dim()), 1);
  shape[0] = v.size(0);
  return v.view(shape).to(like.device(), like.scalar_type());
}

Diffusion::Noised Diffusion::add_noise(const torch::Tensor& x0, const torch::Tensor& t,
                                       const torch::Tensor& noise) const {
  const torch::Tensor a = gather(alpha_bar_, t, x0);
  const torch::Tensor sa = a.sqrt(), sb = (1.0 - a).sqrt();
  Noised out;
  out.x_t = sa * x0 + sb * noise;
  out.target = prediction_ == Prediction::Epsilon ? noise : sa * noise - sb * x0;
  return out;
}

std::pair<torch::Tensor, torch::Tensor> Diffusion::split_prediction(
    const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& output) const {
  const torch::Tensor a = gather(alpha_bar_, t, x_t);
  const torch::Tensor sa = a.sqrt(), sb = (1.0 - a).sqrt();
  if (prediction_ == Prediction::Epsilon) return {(x_t - sb * output) / sa, output};
  // v = sa eps - sb x0 and x_t = sa x0 + sb eps  =>  x0 = sa x_t - sb v, eps = sb x_t + sa v.
  return {sa * x_t - sb * output, sb * x_t + sa * output};
}

torch::Tensor Diffusion::sample(const Denoiser& model, torch::IntArrayRef shape,
                                torch::Device device, Sampler sampler, std::int64_t sampler_steps,
                                double eta, std::uint64_t seed, double x0_clip) const {
  if (sampler_steps < 1 || sampler_steps > steps_)
    throw std::invalid_argument("forecasting.steps: must be between 1 and model.diffusion_steps (" +
                                std::to_string(steps_) + "), got " + std::to_string(sampler_steps));
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto cpu_f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const auto noise = [&] { return torch::randn(shape, generator, cpu_f32).to(device); };

  // Timesteps T-1 = tau_0 > tau_1 > ... > tau_{n-1} >= 0, evenly spaced.
  std::vector<std::int64_t> taus(static_cast<std::size_t>(sampler_steps));
  for (std::int64_t i = 0; i < sampler_steps; ++i)
    taus[std::size_t(i)] =
        (steps_ - 1) - static_cast<std::int64_t>(
                           std::llround(double(i) * double(steps_ - 1) / double(sampler_steps)));

  const double eta_used = sampler == Sampler::Ddpm ? 1.0 : eta;
  torch::Tensor x = noise();
  const std::int64_t batch = shape[0];
  for (std::size_t i = 0; i < taus.size(); ++i) {
    const std::int64_t tau = taus[i];
    const double a = alpha_bar_[tau].item<double>();
    const double a_prev = i + 1 < taus.size() ? alpha_bar_[taus[i + 1]].item<double>() : 1.0;
    const torch::Tensor t =
        torch::full({batch}, tau, torch::TensorOptions().dtype(torch::kLong).device(device));
    auto [x0, eps] = split_prediction(x, t, model(x, t).to(torch::kFloat32));
    if (x0_clip > 0) {
      // Where alpha_bar ~ 0 the implied x0 divides the model's error by sqrt(a); clip it to the
      // data's range (Ho et al. 2020 clip images to [-1, 1]) and re-derive eps so the step stays
      // consistent.
      x0 = x0.clamp(-x0_clip, x0_clip);
      eps = (x - std::sqrt(a) * x0) / std::sqrt(1.0 - a);
    }
    // Ref: Song et al. 2021, eq. 12 and 16. With eta = 1 this is DDPM's posterior on the respaced
    // schedule: sigma^2 = (1 - a_prev) / (1 - a) * (1 - a / a_prev).
    const double sigma =
        eta_used * std::sqrt((1.0 - a_prev) / (1.0 - a)) * std::sqrt(1.0 - a / a_prev);
    const double direction = std::sqrt(std::max(0.0, 1.0 - a_prev - sigma * sigma));
    x = std::sqrt(a_prev) * x0 + direction * eps;
    if (sigma > 0 && i + 1 < taus.size()) x = x + sigma * noise();
  }
  return x;
}

}  // namespace latentcast
