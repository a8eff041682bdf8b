// Assembly, latent encoding, sampling and checkpoint IO of the forecaster.
#include "model/forecaster.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace latentcast {
namespace {

std::vector<std::int64_t> to64(const std::vector<int>& v) {
  return {v.begin(), v.end()};
}

nn::UnetOptions unet_options(const ProjectConfig& config, const AttentionSettings& attention,
                             std::int64_t context_dim, bool concat) {
  nn::UnetOptions o;
  o.in_channels = config.model.latent_channels;
  o.cond_channels = concat ? config.model.latent_channels : 0;
  o.out_channels = config.model.latent_channels;
  o.channels = to64(config.model.channels);
  o.attention_levels = to64(config.model.attention_levels);
  o.heads = config.model.heads;
  o.dropout = config.model.dropout;
  o.context_dim = context_dim;
  o.checkpointing = config.memory.gradient_checkpointing;
  o.attention = attention;
  return o;
}

void copy_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto src = from.parameters(), dst = to.parameters();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

}  // namespace

Forecaster::Forecaster(const ProjectConfig& config, ForecasterMeta meta,
                       const AttentionSettings& attention, torch::Device device)
    : diffusion(config.model.diffusion_steps, config.model.noise_schedule, config.model.prediction),
      history_views(config.dataset.lookback, meta.period, config.model.image_size, device),
      future_views(config.dataset.horizon, meta.period, config.model.image_size, device),
      meta_(std::move(meta)),
      device_(device) {
  const bool concat = config.model.conditioning != Conditioning::CrossAttention;
  const bool context = config.model.conditioning != Conditioning::Concat;
  nn::VaeOptions vo;
  vo.latent_channels = config.model.latent_channels;
  vo.factor = config.model.latent_factor;
  vo.base_channels = std::max<std::int64_t>(16, config.model.channels.front() / 2);
  vae = nn::Vae(vo);
  const auto uo = unet_options(config, attention, context ? kContextDim : 0, concat);
  unet = nn::Unet(uo);
  ema_unet = nn::Unet(uo);
  if (context) {
    tokens = nn::HistoryTokens(config.dataset.lookback, kContextDim);
    ema_tokens = nn::HistoryTokens(config.dataset.lookback, kContextDim);
  }
  vae->to(device);
  unet->to(device);
  ema_unet->to(device);
  copy_parameters(*unet, *ema_unet);
  ema_unet->eval();
  for (auto& p : ema_unet->parameters()) p.set_requires_grad(false);
  if (tokens) {
    tokens->to(device);
    ema_tokens->to(device);
    copy_parameters(*tokens, *ema_tokens);
    ema_tokens->eval();
    for (auto& p : ema_tokens->parameters()) p.set_requires_grad(false);
  }
}

bool Forecaster::uses_concat() const {
  return unet->options().cond_channels > 0;
}
bool Forecaster::uses_context() const {
  return static_cast<bool>(tokens);
}

torch::Tensor Forecaster::history_latents(const torch::Tensor& history) {
  torch::NoGradGuard no_grad;
  return vae->encode_mean(history_views.encode(history)) * meta_.latent_scale;  // [B, c, h, h]
}

torch::Tensor Forecaster::future_latents(const torch::Tensor& future) {
  torch::NoGradGuard no_grad;
  return vae->encode_mean(future_views.encode(future)) * meta_.latent_scale;
}

torch::Tensor Forecaster::denoise(bool ema, const torch::Tensor& x_t, const torch::Tensor& t,
                                  const torch::Tensor& history_latent,
                                  const torch::Tensor& history) {
  nn::Unet& net = ema ? ema_unet : unet;
  torch::Tensor context;
  if (tokens) context = ema ? ema_tokens->forward(history) : tokens->forward(history);  // [B, M, D]
  return net->forward(x_t, t.to(torch::kFloat32), uses_concat() ? history_latent : torch::Tensor(),
                      context);
}

torch::Tensor Forecaster::sample(const torch::Tensor& history, std::int64_t samples,
                                 Sampler sampler, std::int64_t steps, double eta,
                                 std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  vae->eval();
  const torch::Tensor hist = history.to(device_);  // [B, L]
  const std::int64_t B = hist.size(0);
  // The history latents once per segment, in chunks sized like the images they come from.
  const std::int64_t image_rows = std::max<std::int64_t>(
      1, kChunkElements / (3 * history_views.image_size() * history_views.image_size()));
  std::vector<torch::Tensor> parts;
  for (std::int64_t b = 0; b < B; b += image_rows)
    parts.push_back(history_latents(hist.slice(0, b, std::min(B, b + image_rows))));
  const torch::Tensor z_hist = torch::cat(parts, 0);  // [B, c, h, h]

  // Row r of the K * B (sample, segment) pairs is sample r / B of segment r % B; chunks bound
  // memory.
  const std::int64_t rows = samples * B;
  const std::int64_t chunk = std::max<std::int64_t>(
      1, kChunkElements / (3 * future_views.image_size() * future_views.image_size()));
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(device_);
  std::vector<torch::Tensor> outputs;
  for (std::int64_t begin = 0, part = 0; begin < rows; begin += chunk, ++part) {
    const torch::Tensor segment =
        torch::arange(begin, std::min(rows, begin + chunk), long_opts).remainder(B);
    const torch::Tensor zh = z_hist.index_select(0, segment), hh = hist.index_select(0, segment);
    const auto model = [&](const torch::Tensor& x, const torch::Tensor& t) {
      return denoise(true, x, t, zh, hh);
    };
    // One seed per chunk keeps chunks independent yet reproducible.
    const torch::Tensor z = diffusion.sample(model, zh.sizes(), device_, sampler, steps, eta,
                                             seed + std::uint64_t(part), kLatentClip);
    outputs.push_back(future_views.decode_seg(vae->decode(z / meta_.latent_scale)));  // [chunk, H]
  }
  return torch::cat(outputs, 0).view({samples, B, -1});
}

std::vector<torch::Tensor> Forecaster::denoiser_parameters() {
  std::vector<torch::Tensor> params = unet->parameters();
  if (tokens)
    for (auto& p : tokens->parameters()) params.push_back(p);
  return params;
}

void Forecaster::update_ema(double decay) {
  torch::NoGradGuard no_grad;
  const auto step = [decay](torch::nn::Module& live, torch::nn::Module& ema) {
    const auto src = live.parameters(), dst = ema.parameters();
    for (std::size_t i = 0; i < src.size(); ++i)
      dst[i].mul_(decay).add_(src[i].detach(), 1.0 - decay);
  };
  step(*unet, *ema_unet);
  if (tokens) step(*tokens, *ema_tokens);
}

std::vector<std::pair<std::string, torch::nn::Module*>> Forecaster::modules() const {
  std::vector<std::pair<std::string, torch::nn::Module*>> out = {
      {"vae", vae.ptr().get()}, {"unet", unet.ptr().get()}, {"ema_unet", ema_unet.ptr().get()}};
  if (tokens) {
    out.emplace_back("tokens", tokens.ptr().get());
    out.emplace_back("ema_tokens", ema_tokens.ptr().get());
  }
  return out;
}

void Forecaster::save(const std::string& path, torch::optim::Optimizer* optimizer,
                      const std::vector<std::pair<std::string, double>>& counters) const {
  torch::serialize::OutputArchive archive;
  for (const auto& [key, module] : modules()) {
    torch::serialize::OutputArchive a;
    module->save(a);
    archive.write(key, a);
  }
  if (optimizer) {
    torch::serialize::OutputArchive a;
    optimizer->save(a);
    archive.write("optimizer", a);
  }
  archive.write("scaler_mean", meta_.scaler_mean.cpu());
  archive.write("scaler_std", meta_.scaler_std.cpu());
  // torch::full, not torch::tensor: a scalar's dtype must not depend on overload resolution.
  archive.write("period", torch::full({}, meta_.period, torch::kLong));
  archive.write("latent_scale", torch::full({}, meta_.latent_scale, torch::kFloat64));
  std::string columns;
  for (const auto& c : meta_.columns) columns += c + '\n';
  archive.write("columns", c10::IValue(columns));
  archive.write("settings", c10::IValue(meta_.settings));
  for (const auto& [name, value] : counters)
    archive.write("counter." + name, torch::full({}, value, torch::kFloat64));
  std::string names;
  for (const auto& c : counters) names += c.first + '\n';
  archive.write("counters", c10::IValue(names));

  const std::filesystem::path target(path);
  const std::filesystem::path tmp = target.string() + ".tmp";
  archive.save_to(tmp.string());
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot write checkpoint " + path + ": " + ec.message());
  }
}

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  for (char ch : text) {
    if (ch == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += ch;
    }
  }
  return out;
}

// Tensors are mapped to `device` while reading, so optimizer state lands beside its parameters.
torch::serialize::InputArchive open_archive(const std::string& path, torch::Device device) {
  if (!std::filesystem::exists(path)) throw std::invalid_argument(path + ": checkpoint not found");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw std::invalid_argument(path + ": not a Latentcast checkpoint (" +
                                std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return archive;
}

}  // namespace

std::string model_settings(const ProjectConfig& config) {
  const auto list = [](const std::vector<int>& v) {
    std::string s;
    for (const int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
  };
  const ModelConfig& m = config.model;
  const std::vector<std::pair<const char*, std::string>> fields = {
      {"dataset.lookback", std::to_string(config.dataset.lookback)},
      {"dataset.horizon", std::to_string(config.dataset.horizon)},
      {"model.image_size", std::to_string(m.image_size)},
      {"model.latent_factor", std::to_string(m.latent_factor)},
      {"model.latent_channels", std::to_string(m.latent_channels)},
      {"model.channels", list(m.channels)},
      {"model.attention_levels", list(m.attention_levels)},
      {"model.heads", std::to_string(m.heads)},
      {"model.conditioning", to_string(m.conditioning)},
      {"model.prediction", to_string(m.prediction)},
      {"model.noise_schedule", to_string(m.noise_schedule)},
      {"model.diffusion_steps", std::to_string(m.diffusion_steps)},
  };
  std::string out;
  for (const auto& [name, value] : fields) out += std::string(name) + "=" + value + "\n";
  return out;
}

void check_compatible(const ForecasterMeta& meta, const std::vector<std::string>& columns,
                      const ProjectConfig& config, const std::string& path) {
  if (meta.columns != columns)
    throw std::invalid_argument(path + ": trained on other columns than the project's inputs");
  const auto parse = [](const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& line : split_lines(text)) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
  };
  const auto trained = parse(meta.settings);
  if (trained.empty())
    throw std::invalid_argument(path + ": the checkpoint does not record its model settings");
  const auto now = parse(model_settings(config));
  for (const auto& [name, value] : trained) {
    for (const auto& [now_name, now_value] : now) {
      if (now_name == name && now_value != value)
        throw std::invalid_argument(path + ": " + name + ": the checkpoint was trained with " +
                                    value + ", the project has " + now_value);
    }
  }
}

ForecasterMeta Forecaster::read_meta(const std::string& path) {
  torch::serialize::InputArchive archive = open_archive(path, torch::kCPU);
  ForecasterMeta meta;
  // A fresh tensor for every read: reading into a defined tensor keeps its dtype and reinterprets
  // the stored bytes.
  const auto scalar = [&](const char* key) {
    torch::Tensor t;
    archive.read(key, t);
    return t;
  };
  meta.scaler_mean = scalar("scaler_mean");
  meta.scaler_std = scalar("scaler_std");
  meta.period = scalar("period").item<std::int64_t>();
  meta.latent_scale = scalar("latent_scale").item<double>();
  c10::IValue v;
  archive.read("columns", v);
  meta.columns = split_lines(v.toStringRef());
  archive.read("settings", v);
  meta.settings = v.toStringRef();
  return meta;
}

std::vector<std::pair<std::string, double>> Forecaster::load(const std::string& path,
                                                             torch::optim::Optimizer* optimizer,
                                                             bool load_optimizer) {
  torch::serialize::InputArchive archive = open_archive(path, device_);
  try {
    for (const auto& [key, module] : modules()) {
      torch::serialize::InputArchive a;
      archive.read(key, a);
      module->load(a);
    }
    if (optimizer && load_optimizer) {
      torch::serialize::InputArchive a;
      archive.read("optimizer", a);
      optimizer->load(a);
    }
  } catch (const c10::Error& e) {
    throw std::invalid_argument(path +
                                ": the checkpoint does not match the project's model settings (" +
                                std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  for (const auto& entry : modules()) entry.second->to(device_);
  c10::IValue v;
  archive.read("counters", v);
  std::vector<std::pair<std::string, double>> counters;
  for (const auto& name : split_lines(v.toStringRef())) {
    torch::Tensor t;
    archive.read("counter." + name, t);
    counters.emplace_back(name, t.item<double>());
  }
  return counters;
}

}  // namespace latentcast
