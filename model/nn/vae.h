// KL autoencoder (stage 1): [in, S, S] images <-> [latent, S/f, S/f] latents (LibTorch; internal).
#pragma once

#include <torch/torch.h>

namespace latentcast::nn {

struct VaeOptions {
  std::int64_t in_channels = 3;  // view channels (SEG, GAF, RP)
  std::int64_t base_channels =
      32;  // channels at full resolution, doubled per downsampling (max 4x)
  std::int64_t latent_channels = 4;  // c
  std::int64_t factor = 4;           // f: 1, 2, 4 or 8
};

struct VaeOutput {
  torch::Tensor recon;   // [B, in, S, S]
  torch::Tensor mu;      // [B, c, S/f, S/f]
  torch::Tensor logvar;  // [B, c, S/f, S/f]
};

struct VaeLoss {
  torch::Tensor total;  // reconstruction MSE + kl_weight * KL (per latent element)
  double recon_mse = 0;
  double kl = 0;
};

class VaeImpl : public torch::nn::Module {
 public:
  explicit VaeImpl(const VaeOptions& options);
  VaeOutput forward(const torch::Tensor& images);  // samples z with the reparameterisation trick
  torch::Tensor encode_mean(const torch::Tensor& images);  // mu: the deterministic latent
  torch::Tensor decode(const torch::Tensor& latents);
  const VaeOptions& options() const { return options_; }

 private:
  VaeOptions options_;
  torch::nn::Sequential encoder_{nullptr}, decoder_{nullptr};
};
TORCH_MODULE(Vae);

VaeLoss vae_loss(const VaeOutput& out, const torch::Tensor& images, double kl_weight);

}  // namespace latentcast::nn
