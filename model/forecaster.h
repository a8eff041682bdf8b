// The assembled forecaster: views, VAE, history tokens, UNet (+ EMA copy) and diffusion, with the
// state that travels in a checkpoint (scaler, period, latent scale). LibTorch; internal to model/.
// Shape letters: B segments (window x channel pairs), L lookback, H horizon, K samples, c latent
// channels, h latent side (S / f).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "estimator/config.h"
#include "model/attention/attention.h"
#include "model/data/windows.h"
#include "model/diffusion.h"
#include "model/nn/unet.h"
#include "model/nn/vae.h"
#include "model/views.h"

namespace latentcast {

// What a checkpoint needs besides the weights to rebuild and use the forecaster.
struct ForecasterMeta {
  std::vector<std::string> columns;       // input columns, in channel order
  torch::Tensor scaler_mean, scaler_std;  // [C]
  std::int64_t period = 0;                // SEG folding period
  double latent_scale = 1.0;              // multiplies VAE latents to unit variance
  // The settings that shape the model and its data, "name=value" per line (model_settings()); a
  // checkpoint is used only with a project whose settings are the same.
  std::string settings;
};

// The settings a checkpoint depends on, one "name=value" line each, in a fixed order.
std::string model_settings(const ProjectConfig& config);
// Throws std::invalid_argument when the checkpoint at `path` cannot serve this project: trained on
// other input columns, or with other model settings (naming the first that differs:
// "model.image_size: the checkpoint was trained with 16, the project has 32").
void check_compatible(const ForecasterMeta& meta, const std::vector<std::string>& columns,
                      const ProjectConfig& config, const std::string& path);

class Forecaster {
 public:
  // Width of the cross-attention tokens.
  static constexpr std::int64_t kContextDim = 64;
  // Latents are scaled to unit variance, so a predicted x0 beyond +-5 is not data (sampler
  // clipping).
  static constexpr double kLatentClip = 5.0;
  // Image values per chunk when encoding or sampling many segments (64 Mi values: 256 MiB in fp32).
  static constexpr std::int64_t kChunkElements = std::int64_t(1) << 26;

  Forecaster(const ProjectConfig& config, ForecasterMeta meta, const AttentionSettings& attention,
             torch::Device device);

  const ForecasterMeta& meta() const { return meta_; }
  ForecasterMeta& meta() { return meta_; }
  torch::Device device() const { return device_; }
  bool uses_concat() const;
  bool uses_context() const;

  nn::Vae vae{nullptr};
  nn::Unet unet{nullptr}, ema_unet{nullptr};
  nn::HistoryTokens tokens{nullptr}, ema_tokens{nullptr};  // null without cross-attention
  Diffusion diffusion;
  ViewEncoder history_views, future_views;

  // Scaled latents of segments ([B, L] or [B, H] scaled values) with the frozen VAE: [B, c, h, h].
  torch::Tensor history_latents(const torch::Tensor& history);
  torch::Tensor future_latents(const torch::Tensor& future);
  // Model output for a noisy future latent, conditioned on a history (latent and/or tokens).
  torch::Tensor denoise(bool ema, const torch::Tensor& x_t, const torch::Tensor& t,
                        const torch::Tensor& history_latent, const torch::Tensor& history);
  // K forecasts of each history [B, L] (scaled): [K, B, H] scaled values. Read out through VAE
  // decode and the SEG pseudo-inverse (views.h). Work is chunked so that no chunk holds more than
  // kChunkElements image values.
  torch::Tensor sample(const torch::Tensor& history, std::int64_t samples, Sampler sampler,
                       std::int64_t steps, double eta, std::uint64_t seed);

  // Parameters trained in stage 2 (UNet and tokens).
  std::vector<torch::Tensor> denoiser_parameters();
  void update_ema(double decay);

  // Saves weights (+ optimizer state and training counters when given) atomically: a temporary file
  // in the same folder, then a rename.
  void save(const std::string& path, torch::optim::Optimizer* optimizer,
            const std::vector<std::pair<std::string, double>>& counters) const;
  // Reads a checkpoint's meta without building the model.
  static ForecasterMeta read_meta(const std::string& path);
  // Loads weights (and the optimizer, if given and `load_optimizer`); returns the counters.
  std::vector<std::pair<std::string, double>> load(const std::string& path,
                                                   torch::optim::Optimizer* optimizer,
                                                   bool load_optimizer);

  // The modules a checkpoint holds, by archive key (the same list for save and load).
  std::vector<std::pair<std::string, torch::nn::Module*>> modules() const;

 private:
  ForecasterMeta meta_;
  torch::Device device_;
};

}  // namespace latentcast
