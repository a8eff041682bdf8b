// KL autoencoder of the views: a convolutional encoder to a diagonal Gaussian latent and a mirrored
// decoder. Ref: Kingma & Welling 2014 (VAE); Rombach et al. 2022, "High-Resolution Image Synthesis
// with Latent Diffusion Models", sec. 3.1 and appendix G (the autoencoder layout, much reduced).
#include "model/nn/vae.h"

#include <algorithm>
#include <string>
#include <vector>

#include "model/nn/layers.h"

namespace latentcast::nn {
namespace {

constexpr double kLogvarMin = -30.0, kLogvarMax = 20.0;  // keeps exp(logvar) finite in float32

// Pre-activation residual block at constant width.
class VaeResBlockImpl : public torch::nn::Module {
 public:
  explicit VaeResBlockImpl(std::int64_t channels)
      : norm1_(register_module("norm1", group_norm(channels))),
        conv1_(register_module("conv1", conv3x3(channels, channels))),
        norm2_(register_module("norm2", group_norm(channels))),
        conv2_(register_module("conv2", conv3x3(channels, channels))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = conv1_(torch::silu(norm1_(x)));
    h = conv2_(torch::silu(norm2_(h)));
    return x + h;
  }

 private:
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Conv2d conv2_;
};
TORCH_MODULE(VaeResBlock);

// Channels at each resolution: base, doubled per downsampling, at most 4 x base.
std::vector<std::int64_t> level_channels(const VaeOptions& o) {
  std::vector<std::int64_t> ch{o.base_channels};
  for (std::int64_t f = o.factor; f > 1; f /= 2)
    ch.push_back(std::min(2 * ch.back(), 4 * o.base_channels));
  return ch;
}

torch::nn::Upsample upsample2x() {
  return torch::nn::Upsample(torch::nn::UpsampleOptions()
                                 .scale_factor(std::vector<double>{2.0, 2.0})
                                 .mode(torch::kNearest));
}

struct Moments {
  torch::Tensor mu, logvar;
};

Moments split_moments(const torch::Tensor& moments) {
  const auto halves = moments.chunk(2, 1);  // 2 x [B, c, S/f, S/f]
  return {halves[0], halves[1].clamp(kLogvarMin, kLogvarMax)};
}

void check_images(const torch::Tensor& images, const VaeOptions& o) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == o.in_channels, "VAE expects images [B, ",
              o.in_channels, ", S, S], got ", images.sizes());
  TORCH_CHECK(images.size(2) % o.factor == 0 && images.size(3) % o.factor == 0,
              "VAE image side must be divisible by the factor ", o.factor, ", got ",
              images.sizes());
}

}  // namespace

VaeImpl::VaeImpl(const VaeOptions& options) : options_(options) {
  const auto& o = options_;
  TORCH_CHECK(o.factor == 1 || o.factor == 2 || o.factor == 4 || o.factor == 8,
              "VAE factor must be 1, 2, 4 or 8, got ", o.factor);
  TORCH_CHECK(o.in_channels > 0 && o.base_channels > 0 && o.latent_channels > 0,
              "VAE channel counts must be positive");
  const std::vector<std::int64_t> ch = level_channels(o);
  const std::size_t levels = ch.size() - 1;

  // Submodule names are checkpoint keys (e.g. "encoder.down0_conv.weight"): keep them stable.
  torch::nn::Sequential enc;
  enc->push_back("conv_in", conv3x3(o.in_channels, ch[0]));
  for (std::size_t i = 0; i < levels; ++i) {
    enc->push_back("down" + std::to_string(i) + "_res", VaeResBlock(ch[i]));
    enc->push_back("down" + std::to_string(i) + "_conv", conv3x3(ch[i], ch[i + 1], 2));
  }
  enc->push_back("mid_res", VaeResBlock(ch[levels]));
  enc->push_back("norm_out", group_norm(ch[levels]));
  enc->push_back("act_out", torch::nn::SiLU());
  enc->push_back("conv_out", conv3x3(ch[levels], 2 * o.latent_channels));  // mu and logvar
  encoder_ = register_module("encoder", enc);

  torch::nn::Sequential dec;
  dec->push_back("conv_in", conv3x3(o.latent_channels, ch[levels]));
  dec->push_back("mid_res", VaeResBlock(ch[levels]));
  for (std::size_t i = levels; i-- > 0;) {
    dec->push_back("up" + std::to_string(i) + "_upsample", upsample2x());
    dec->push_back("up" + std::to_string(i) + "_conv", conv3x3(ch[i + 1], ch[i]));
    dec->push_back("up" + std::to_string(i) + "_res", VaeResBlock(ch[i]));
  }
  dec->push_back("norm_out", group_norm(ch[0]));
  dec->push_back("act_out", torch::nn::SiLU());
  // Linear output: the views are standardised values, not pixels in [-1, 1].
  dec->push_back("conv_out", conv3x3(ch[0], o.in_channels));
  decoder_ = register_module("decoder", dec);
}

VaeOutput VaeImpl::forward(const torch::Tensor& images) {
  check_images(images, options_);
  const Moments m = split_moments(encoder_->forward(images));
  // Reparameterisation trick: z = mu + sigma * eps keeps the sample differentiable in mu, logvar.
  const torch::Tensor z = m.mu + torch::exp(0.5 * m.logvar) * torch::randn_like(m.mu);
  return {decoder_->forward(z), m.mu, m.logvar};
}

torch::Tensor VaeImpl::encode_mean(const torch::Tensor& images) {
  check_images(images, options_);
  return split_moments(encoder_->forward(images)).mu;
}

torch::Tensor VaeImpl::decode(const torch::Tensor& latents) {
  TORCH_CHECK(latents.dim() == 4 && latents.size(1) == options_.latent_channels,
              "VAE decode expects latents [B, ", options_.latent_channels, ", h, h], got ",
              latents.sizes());
  return decoder_->forward(latents);
}

VaeLoss vae_loss(const VaeOutput& out, const torch::Tensor& images, double kl_weight) {
  const torch::Tensor recon = torch::mse_loss(out.recon, images);
  // KL(N(mu, sigma^2) || N(0, 1)) per latent element. Ref: Kingma & Welling 2014, appendix B.
  const torch::Tensor kl = (-0.5 * (1 + out.logvar - out.mu.pow(2) - out.logvar.exp())).mean();
  VaeLoss loss;
  loss.total = recon + kl_weight * kl;
  loss.recon_mse = recon.item<double>();
  loss.kl = kl.item<double>();
  return loss;
}

}  // namespace latentcast::nn
