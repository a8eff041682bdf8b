// The conditional UNet denoiser: residual blocks with a time embedding, self- and cross-attention
// through the attention interface, skip connections, and per-block gradient checkpointing.
// Ref: Ho et al. 2020, "Denoising Diffusion Probabilistic Models", appendix B (the layout);
// Dhariwal & Nichol 2021, "Diffusion Models Beat GANs" (zero-initialised residual outputs);
// Rombach et al. 2022 (cross-attention conditioning).
#include "model/nn/unet.h"

#include <cmath>
#include <string>
#include <utility>

#include "model/nn/checkpoint.h"
#include "model/nn/layers.h"

namespace latentcast::nn {
namespace {

constexpr int kResBlocksPerLevel = 2;  // on the way down; the way up has one more (DDPM)

// Starts a residual branch at zero so every block begins as the identity.
template <class Layer>
Layer zero_init(Layer layer) {
  const torch::NoGradGuard no_grad;
  layer->weight.zero_();
  layer->bias.zero_();
  return layer;
}

// Sinusoidal embedding of the timesteps, [B] -> [B, dim]. Ref: Vaswani et al. 2017, sec. 3.5;
// the DDPM reference code (get_timestep_embedding).
// Computed in at least float32 (timesteps up to ~1000 need the mantissa), then cast to the model's
// dtype on the model's device.
torch::Tensor timestep_embedding(const torch::Tensor& t, std::int64_t dim, torch::ScalarType dtype,
                                 torch::Device device) {
  const std::int64_t half = dim / 2;
  const auto type = c10::promoteTypes(dtype, torch::kFloat32);
  const auto opts = torch::TensorOptions().dtype(type).device(device);
  const torch::Tensor freqs =
      torch::exp(torch::arange(half, opts) * (-std::log(10000.0) / static_cast<double>(half)));
  const torch::Tensor args = t.to(opts).reshape({-1, 1}) * freqs.reshape({1, -1});  // [B, half]
  return torch::cat({torch::cos(args), torch::sin(args)}, 1).to(dtype);             // [B, dim]
}

// GroupNorm, SiLU, conv, + time embedding, GroupNorm, SiLU, dropout, conv; a 1x1 conv on the skip
// path when the width changes.
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(std::int64_t in, std::int64_t out, std::int64_t time_dim, double dropout)
      : dropout_(dropout),
        norm1_(register_module("norm1", group_norm(in))),
        conv1_(register_module("conv1", conv3x3(in, out))),
        time_proj_(register_module("time_proj", torch::nn::Linear(time_dim, out))),
        norm2_(register_module("norm2", group_norm(out))),
        conv2_(register_module("conv2", zero_init(conv3x3(out, out)))) {
    if (in != out) skip_ = register_module("skip", conv1x1(in, out));
  }

  // x [B, in, h, w], temb [B, time_dim] -> [B, out, h, w]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb) {
    torch::Tensor h = conv1_(torch::silu(norm1_(x)));
    h = h + time_proj_(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // + [B, out, 1, 1]
    // The functional form draws from the global generator, whose state checkpointing restores.
    h = torch::nn::functional::dropout(
        torch::silu(norm2_(h)),
        torch::nn::functional::DropoutFuncOptions().p(dropout_).training(is_training()));
    h = conv2_(h);
    return (skip_ ? skip_(x) : x) + h;
  }

 private:
  double dropout_;
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
  torch::nn::Linear time_proj_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d skip_{nullptr};
};
TORCH_MODULE(ResBlock);

// [B, heads, N, d] -> [B, C, h, w] with C = heads * d, N = h * w.
torch::Tensor heads_to_image(const torch::Tensor& o, const torch::IntArrayRef image_sizes) {
  return o.permute({0, 1, 3, 2}).reshape(image_sizes);
}

// Self-attention over the h * w positions of a feature map, residual.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(std::int64_t channels, std::int64_t heads, const AttentionSettings& settings)
      : heads_(heads),
        settings_(settings),
        norm_(register_module("norm", group_norm(channels))),
        qkv_(register_module("qkv", conv1x1(channels, 3 * channels))),
        proj_(register_module("proj", zero_init(conv1x1(channels, channels)))) {
    // The channel backend's learnable temperature per head (Restormer starts it at 1).
    if (settings.backend == AttentionBackend::Channel)
      temperature_ = register_parameter("temperature", torch::ones({heads}));
  }

  torch::Tensor forward(const torch::Tensor& x) {  // [B, C, h, w]
    const std::int64_t b = x.size(0), c = x.size(1), n = x.size(2) * x.size(3);
    const torch::Tensor qkv =
        qkv_(norm_(x)).reshape({b, 3, heads_, c / heads_, n}).permute({1, 0, 2, 4, 3});
    // qkv: [3, B, heads, N, d]
    const AttentionLayout layout{x.size(2), x.size(3), temperature_};
    const torch::Tensor o =
        attention(qkv[0], qkv[1], qkv[2], settings_, layout);  // [B, heads, N, d]
    return x + proj_(heads_to_image(o, x.sizes()));
  }

 private:
  std::int64_t heads_;
  AttentionSettings settings_;
  torch::nn::GroupNorm norm_;
  torch::nn::Conv2d qkv_;
  torch::nn::Conv2d proj_;
  torch::Tensor temperature_;  // [heads], channel backend only
};
TORCH_MODULE(SelfAttention);

// Cross-attention from the positions of a feature map (queries) to context tokens (keys, values),
// residual.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(std::int64_t channels, std::int64_t context_dim, std::int64_t heads,
                     const AttentionSettings& settings)
      : heads_(heads),
        settings_(cross_attention_settings(settings)),
        norm_(register_module("norm", group_norm(channels))),
        q_(register_module("q", conv1x1(channels, channels))),
        kv_(register_module("kv", torch::nn::Linear(context_dim, 2 * channels))),
        proj_(register_module("proj", zero_init(conv1x1(channels, channels)))) {}

  // x [B, C, h, w], context [B, M, context_dim]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context) {
    const std::int64_t b = x.size(0), c = x.size(1), n = x.size(2) * x.size(3);
    const std::int64_t m = context.size(1), d = c / heads_;
    const torch::Tensor q = q_(norm_(x)).reshape({b, heads_, d, n}).transpose(2, 3);
    // q: [B, heads, N, d]
    const torch::Tensor kv = kv_(context).reshape({b, m, 2, heads_, d}).permute({2, 0, 3, 1, 4});
    // kv: [2, B, heads, M, d]
    const torch::Tensor o = attention(q, kv[0], kv[1], settings_);  // [B, heads, N, d]
    return x + proj_(heads_to_image(o, x.sizes()));
  }

 private:
  std::int64_t heads_;
  AttentionSettings settings_;
  torch::nn::GroupNorm norm_;
  torch::nn::Conv2d q_;
  torch::nn::Linear kv_;
  torch::nn::Conv2d proj_;
};
TORCH_MODULE(CrossAttention);

// A residual block followed, at attention levels, by self-attention and (with a context)
// cross-attention.
class UnitImpl : public torch::nn::Module {
 public:
  UnitImpl(std::int64_t in, std::int64_t out, bool attend, const UnetOptions& o)
      : res(register_module("res", ResBlock(in, out, 4 * o.channels[0], o.dropout))) {
    if (!attend) return;
    attn = register_module("attn", SelfAttention(out, o.heads, o.attention));
    if (o.context_dim > 0)
      cross = register_module("cross", CrossAttention(out, o.context_dim, o.heads, o.attention));
  }

  ResBlock res;
  SelfAttention attn{nullptr};
  CrossAttention cross{nullptr};
};
TORCH_MODULE(Unit);

// The units of one level and its resampling conv (stride 2 on the way down; after a nearest
// upsample on the way up; none at the bottom level or, going up, at level 0).
class LevelImpl : public torch::nn::Module {
 public:
  LevelImpl() : units(register_module("units", torch::nn::ModuleList())) {}

  torch::nn::ModuleList units;
  torch::nn::Conv2d resample{nullptr};
};
TORCH_MODULE(Level);

// The bottleneck: a unit that always attends, then a second residual block.
class MiddleImpl : public torch::nn::Module {
 public:
  MiddleImpl(std::int64_t ch, const UnetOptions& o)
      : unit(register_module("unit", Unit(ch, ch, true, o))),
        res(register_module("res", ResBlock(ch, ch, 4 * o.channels[0], o.dropout))) {}

  Unit unit;
  ResBlock res;
};
TORCH_MODULE(Middle);

// Runs one block, through nn::checkpoint when the mode asks for it. The lambdas hold the block's
// shared_ptr, so the block outlives any pending backward.
torch::Tensor run_res(const std::shared_ptr<ResBlockImpl>& block, const torch::Tensor& x,
                      const torch::Tensor& temb, CheckpointMode mode) {
  if (mode != CheckpointMode::All) return block->forward(x, temb);
  return checkpoint(
      [block](const std::vector<torch::Tensor>& in) { return block->forward(in[0], in[1]); },
      {x, temb});
}

torch::Tensor run_unit(UnitImpl& unit, torch::Tensor h, const torch::Tensor& temb,
                       const torch::Tensor& context, CheckpointMode mode) {
  h = run_res(unit.res.ptr(), h, temb, mode);
  if (unit.attn) {
    const auto attn = unit.attn.ptr();
    h = mode == CheckpointMode::None
            ? attn->forward(h)
            : checkpoint(
                  [attn](const std::vector<torch::Tensor>& in) { return attn->forward(in[0]); },
                  {h});
  }
  if (unit.cross) {
    const auto cross = unit.cross.ptr();
    h = mode == CheckpointMode::None ? cross->forward(h, context)
                                     : checkpoint(
                                           [cross](const std::vector<torch::Tensor>& in) {
                                             return cross->forward(in[0], in[1]);
                                           },
                                           {h, context});
  }
  return h;
}

}  // namespace

struct UnetImpl::Impl {
  torch::nn::Linear time_fc1{nullptr}, time_fc2{nullptr};
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  std::vector<Level> down, up;  // up[i] works at level i's side, like down[i]
  Middle middle{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
};

UnetImpl::UnetImpl(const UnetOptions& options)
    : options_(options), impl_(std::make_shared<Impl>()) {
  const auto& o = options_;
  const auto levels = static_cast<std::int64_t>(o.channels.size());
  TORCH_CHECK(levels > 0, "UNet: channels must list at least one level");
  for (const auto c : o.channels) TORCH_CHECK(c > 0, "UNet: channels must be positive");
  TORCH_CHECK(o.channels[0] % 2 == 0, "UNet: channels[0] must be even (time embedding width)");
  TORCH_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.cond_channels >= 0 && o.context_dim >= 0,
              "UNet: invalid in/out/cond channels or context_dim");
  TORCH_CHECK(o.dropout >= 0 && o.dropout < 1, "UNet: dropout must be in [0, 1), got ", o.dropout);
  TORCH_CHECK(o.heads > 0, "UNet: heads must be positive");
  TORCH_CHECK(o.attention.backend != AttentionBackend::Auto,
              "UNet: resolve the attention backend (resolve_backend) before building the model");
  std::vector<bool> attend(levels, false);
  for (const auto l : o.attention_levels) {
    TORCH_CHECK(l >= 0 && l < levels, "UNet: attention level ", l, " outside 0..", levels - 1);
    attend[l] = true;
  }
  for (std::int64_t l = 0; l < levels; ++l)
    TORCH_CHECK(!attend[l] || o.channels[l] % o.heads == 0, "UNet: heads (", o.heads,
                ") must divide the channels (", o.channels[l], ") at attention level ", l);
  TORCH_CHECK(o.channels.back() % o.heads == 0, "UNet: heads (", o.heads,
              ") must divide the channels (", o.channels.back(), ") of the middle attention block");

  // Submodule names are checkpoint keys (e.g. "down.1.units.0.attn.qkv.weight"): keep them stable.
  auto& m = *impl_;
  const std::int64_t time_dim = 4 * o.channels[0];
  m.time_fc1 = register_module("time_fc1", torch::nn::Linear(o.channels[0], time_dim));
  m.time_fc2 = register_module("time_fc2", torch::nn::Linear(time_dim, time_dim));
  m.conv_in = register_module("conv_in", conv3x3(o.in_channels + o.cond_channels, o.channels[0]));

  std::vector<std::int64_t> skips{o.channels[0]};  // widths of the skip tensors, in push order
  std::int64_t ch = o.channels[0];
  auto down = register_module("down", torch::nn::ModuleList());
  for (std::int64_t l = 0; l < levels; ++l) {
    Level level;
    for (int r = 0; r < kResBlocksPerLevel; ++r) {
      level->units->push_back(Unit(ch, o.channels[l], attend[l], o));
      ch = o.channels[l];
      skips.push_back(ch);
    }
    if (l + 1 < levels) {
      level->resample = level->register_module("downsample", conv3x3(ch, ch, 2));
      skips.push_back(ch);
    }
    down->push_back(level);
    m.down.push_back(level);
  }

  m.middle = register_module("middle", Middle(ch, o));

  m.up.resize(levels, Level(nullptr));
  for (std::int64_t l = levels - 1; l >= 0; --l) {
    Level level;
    for (int r = 0; r < kResBlocksPerLevel + 1; ++r) {
      level->units->push_back(Unit(ch + skips.back(), o.channels[l], attend[l], o));
      skips.pop_back();
      ch = o.channels[l];
    }
    if (l > 0) level->resample = level->register_module("upsample_conv", conv3x3(ch, ch));
    m.up[l] = level;
  }
  auto up = register_module("up", torch::nn::ModuleList());
  for (const auto& level : m.up) up->push_back(level);

  m.norm_out = register_module("norm_out", group_norm(ch));
  m.conv_out = register_module("conv_out", conv3x3(ch, o.out_channels));
}

torch::Tensor UnetImpl::forward(const torch::Tensor& x, const torch::Tensor& t,
                                const torch::Tensor& cond, const torch::Tensor& context) {
  const auto& o = options_;
  auto& m = *impl_;
  const auto levels = static_cast<std::int64_t>(o.channels.size());
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.in_channels, "UNet expects x [B, ", o.in_channels,
              ", h, h], got ", x.sizes());
  const std::int64_t multiple = std::int64_t{1} << (levels - 1);
  TORCH_CHECK(x.size(2) % multiple == 0 && x.size(3) % multiple == 0, "UNet: the latent side ",
              x.size(2), " must be divisible by ", multiple, " (", levels, " levels)");
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "UNet expects t [B], got ", t.sizes());
  TORCH_CHECK(o.cond_channels == 0 || (cond.defined() && cond.size(1) == o.cond_channels),
              "UNet: expected a condition with ", o.cond_channels, " channels");
  TORCH_CHECK(o.cond_channels > 0 || !cond.defined(), "UNet: built without a condition input");
  TORCH_CHECK(o.context_dim == 0 ||
                  (context.defined() && context.dim() == 3 && context.size(2) == o.context_dim),
              "UNet: expected context tokens [B, M, ", o.context_dim, "]");
  TORCH_CHECK(o.context_dim > 0 || !context.defined(), "UNet: built without cross-attention");
  const CheckpointMode mode = o.checkpointing;

  const torch::Tensor temb = m.time_fc2(torch::silu(m.time_fc1(
      timestep_embedding(t, o.channels[0], m.conv_in->weight.scalar_type(), x.device()))));
  // temb: [B, 4 * channels[0]]
  torch::Tensor h = m.conv_in(o.cond_channels > 0 ? torch::cat({x, cond}, 1) : x);
  std::vector<torch::Tensor> skips{h};
  for (auto& level : m.down) {
    for (const auto& unit : *level->units) {
      h = run_unit(*unit->as<UnitImpl>(), h, temb, context, mode);
      skips.push_back(h);
    }
    if (level->resample) {
      h = level->resample(h);
      skips.push_back(h);
    }
  }

  h = run_unit(*m.middle->unit, h, temb, context, mode);
  h = run_res(m.middle->res.ptr(), h, temb, mode);

  for (auto l = levels - 1; l >= 0; --l) {
    Level& level = m.up[l];
    for (const auto& unit : *level->units) {
      h = run_unit(*unit->as<UnitImpl>(), torch::cat({h, skips.back()}, 1), temb, context, mode);
      skips.pop_back();
    }
    if (level->resample)
      h = level->resample(
          torch::nn::functional::interpolate(h, torch::nn::functional::InterpolateFuncOptions()
                                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                                    .mode(torch::kNearest)));
  }
  return m.conv_out(torch::silu(m.norm_out(h)));  // [B, out, h, h]
}

}  // namespace latentcast::nn
