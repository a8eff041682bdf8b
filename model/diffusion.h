// Gaussian diffusion over latents: noise schedules, the training target (epsilon or v) and the DDPM
// and DDIM samplers (LibTorch; internal to model/).
#pragma once

#include <torch/torch.h>

#include <functional>

#include "estimator/config.h"

namespace latentcast {

class Diffusion {
 public:
  // T = steps training timesteps. Schedules: linear betas 1e-4..0.02 (Ho et al. 2020); cosine
  // alpha_bar(t) = cos^2(((t / T) + 0.008) / 1.008 * pi / 2), betas clipped at 0.999 (Nichol &
  // Dhariwal 2021, eq. 17).
  Diffusion(std::int64_t steps, NoiseSchedule schedule, Prediction prediction);

  std::int64_t steps() const { return steps_; }
  Prediction prediction() const { return prediction_; }
  const torch::Tensor& alpha_bar() const { return alpha_bar_; }  // [T] float64, CPU

  struct Noised {
    torch::Tensor x_t;     // sqrt(a) x0 + sqrt(1 - a) eps
    torch::Tensor target;  // eps, or v = sqrt(a) eps - sqrt(1 - a) x0 (Salimans & Ho 2022)
  };
  // x0 [B, ...], t [B] int64 in [0, T), noise like x0.
  Noised add_noise(const torch::Tensor& x0, const torch::Tensor& t,
                   const torch::Tensor& noise) const;

  // Turns a model output at timestep(s) t into the (x0, eps) it implies.
  std::pair<torch::Tensor, torch::Tensor> split_prediction(const torch::Tensor& x_t,
                                                           const torch::Tensor& t,
                                                           const torch::Tensor& output) const;

  // The model, called as model(x_t, t) with t [B] int64; returns its raw output.
  using Denoiser = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

  // Draws samples of `shape` on `device` in `sampler_steps` steps (evenly spaced timesteps from T -
  // 1 down to 0). All noise comes from a CPU generator seeded with `seed`, so a seed gives the same
  // samples on every device. DDIM: Song et al. 2021, eq. 12, with eta (0: deterministic). DDPM:
  // ancestral sampling on the respaced schedule beta'_i = 1 - a_i / a_prev (Nichol & Dhariwal 2021,
  // sec. 4). x0_clip > 0 clamps each step's predicted x0 to [-x0_clip, x0_clip].
  torch::Tensor sample(const Denoiser& model, torch::IntArrayRef shape, torch::Device device,
                       Sampler sampler, std::int64_t sampler_steps, double eta, std::uint64_t seed,
                       double x0_clip = 0) const;

 private:
  torch::Tensor gather(const torch::Tensor& values, const torch::Tensor& t,
                       const torch::Tensor& like) const;

  std::int64_t steps_;
  Prediction prediction_;
  torch::Tensor alpha_bar_;  // [T] float64
};

}  // namespace latentcast
