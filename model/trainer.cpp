// engine::train: stage 1 (the VAE on view images), latent caching, stage 2 (the diffusion UNet)
// with AdamW, cosine LR with warm-up, EMA with warm-up, gradient clipping, CUDA autocast (dynamic
// loss scaling for fp16), validation, early stopping, atomic checkpoints and resume.
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>

#include "model/engine_internal.h"
#include "model/forecaster.h"
#include "model/memory/cpu_memory.h"
#include "model/torch_compat.h"

namespace latentcast::engine {
namespace {

using detail::DeviceChoice;
using Clock = std::chrono::steady_clock;

constexpr double kVaeKlWeight =
    1e-4;  // small: the latent must keep the SEG detail the readout needs
// Stage 1 uses its own learning rate: a small convolutional autoencoder with a deterministic target
// trains well at Adam's usual 1e-3, while training.learning_rate is tuned for the diffusion UNet.
constexpr double kVaeLearningRate = 1e-3;
constexpr std::int64_t kValSegments =
    512;  // validation segments (fixed noise, so the curve is smooth)

std::string now_iso() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
  return buf;
}

// Linear warm-up to `peak`, then a cosine decay to zero at `total`.
double cosine_lr(double peak, std::int64_t step, std::int64_t warmup, std::int64_t total) {
  if (warmup > 0 && step < warmup) return peak * double(step + 1) / double(warmup);
  const double progress = double(step - warmup) / double(std::max<std::int64_t>(1, total - warmup));
  return peak * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

// Frees the gradients of the optimizer's parameters (set-to-none), called right after each update:
// LibTorch 1.13's zero_grad() fills them with zeros and keeps them, 2.x frees them; this behaves
// the same on both, and no gradient stays allocated through validation or the next forward.
void clear_grads(torch::optim::Optimizer& opt) {
  for (auto& group : opt.param_groups())
    for (auto& p : group.params()) p.mutable_grad() = torch::Tensor();
}

// Dynamic loss scaling for fp16 (Micikevicius et al. 2018): scale the loss, skip steps whose
// gradients overflow and halve the scale; double it after a run of good steps.
struct LossScaler {
  bool enabled = false;
  double scale = 65536.0;
  std::int64_t good_steps = 0;
  static constexpr std::int64_t kGrowthInterval = 2000;

  // Unscales gradients in place; false when they are not finite (skip the step).
  bool unscale(const std::vector<torch::Tensor>& params) {
    if (!enabled) return true;
    bool finite = true;
    for (const auto& p : params) {
      if (!p.grad().defined()) continue;
      p.mutable_grad().div_(scale);
      finite = finite && torch::isfinite(p.grad()).all().item<bool>();
    }
    if (!finite) {
      scale /= 2.0;
      good_steps = 0;
    } else if (++good_steps % kGrowthInterval == 0) {
      scale *= 2.0;
    }
    return finite;
  }
};

struct Segments {
  torch::Tensor history, future;  // [M, L], [M, H] scaled

  Segments to(torch::Device device) const { return {history.to(device), future.to(device)}; }
};

// On the CPU: train() moves them to the device after on_stage("model"), so that a measurement on
// CUDA counts them.
Segments make_segments(const detail::PreparedData& data, const data::Scaler& scaler,
                       const data::RowRange& range, const ProjectConfig& config) {
  const auto w = data::make_windows(scaler.transform(data.raw), range, config.dataset.lookback,
                                    config.dataset.horizon, config.dataset.stride);
  return {detail::segments(w.history), detail::segments(w.future)};
}

// Latents of many segments, encoded without grad `rows` segments at a time into one preallocated
// tensor. The trainer passes 2B rows, the VAE step's batch: a pass without grad at that size holds
// less than the VAE training step did, so caching never raises the peak above stage 1 (the
// estimator relies on it), and no concatenation doubles the cache at the end.
torch::Tensor encode_all(Forecaster& f, const torch::Tensor& segs, bool history,
                         std::int64_t rows) {
  torch::NoGradGuard no_grad;
  torch::Tensor out;
  for (std::int64_t b = 0; b < segs.size(0); b += rows) {
    const torch::Tensor s = segs.slice(0, b, std::min(segs.size(0), b + rows));
    const torch::Tensor z = history ? f.history_latents(s) : f.future_latents(s);
    if (!out.defined()) {
      std::vector<std::int64_t> sizes = z.sizes().vec();
      sizes[0] = segs.size(0);
      out = torch::empty(sizes, z.options());
    }
    out.slice(0, b, b + z.size(0)).copy_(z);
  }
  return out;
}

}  // namespace

TrainResult train(const TrainRequest& request, const Callbacks& callbacks) {
  TrainResult result;
  const auto message = [&](const std::string& m) {
    result.messages.push_back(m);
    if (callbacks.on_message) callbacks.on_message(m);
  };
  const auto stop_requested = [&] { return callbacks.stop && callbacks.stop->load(); };
  const auto stage = [&](const std::string& name) {
    if (callbacks.on_stage) callbacks.on_stage(name);
  };

  ProjectConfig config = request.config;
  if (request.epochs >= 1) {
    config.training.steps = 0;
    config.training.epochs = static_cast<int>(request.epochs);
  } else if (request.steps >= 0) {
    config.training.steps = static_cast<int>(request.steps);
  }
  const TrainingConfig& tc = config.training;
  const DeviceChoice dev = detail::choose_device(request.device);
  const detail::PreparedData data = detail::prepare_data(config);
  std::string note;
  const AttentionSettings attention = detail::attention_for(config, dev, &note);
  if (!note.empty()) message(note);

  RunRecord& run = result.run;
  run.started = now_iso();
  run.device = dev.description;
  run.id = std::filesystem::path(request.run_dir).filename().string();

  detail::translate_errors([&] {
    std::filesystem::create_directories(request.run_dir);
    torch::manual_seed(tc.seed);
    const Precision precision = config.memory.precision;
    if (!dev.on_cuda && precision != Precision::Fp32)
      message(std::string("memory.precision ") + to_string(precision) +
              " takes effect on CUDA; this CPU run computes in fp32");
    const bool autocast = dev.on_cuda && precision != Precision::Fp32;
    const at::ScalarType half = precision == Precision::Bf16 ? at::kBFloat16 : at::kHalf;

    // Scaling and period come from the training rows only (or, on resume, from the checkpoint).
    const auto& tr = data.split.train;
    ForecasterMeta meta;
    meta.columns = data.columns;
    meta.settings = model_settings(config);
    if (!request.resume_from.empty()) {
      meta = Forecaster::read_meta(request.resume_from);
      check_compatible(meta, data.columns, config, request.resume_from);
    } else {
      const data::Scaler fitted = data::Scaler::fit(data.raw.slice(0, tr.begin, tr.end));
      meta.scaler_mean = fitted.mean;
      meta.scaler_std = fitted.std;
      // One period folds both the history and the future, so it is at most min(L, H, S).
      const int max_period =
          std::min({config.dataset.lookback, config.dataset.horizon, config.model.image_size});
      meta.period =
          config.model.period > 0
              ? config.model.period
              : detect_period(fitted.transform(data.raw.slice(0, tr.begin, tr.end)), max_period);
      if (meta.period > 0) {
        message("SEG period: " + std::to_string(meta.period) +
                (config.model.period > 0 ? " (model.period)" : " (FFT peak of the training rows)"));
      } else {
        meta.period =
            static_cast<std::int64_t>(std::ceil(std::sqrt(double(config.dataset.horizon))));
        message("SEG period: no clear seasonality in the training rows; folding by " +
                std::to_string(meta.period) + " (set model.period to choose)");
      }
    }
    const data::Scaler scaler{meta.scaler_mean, meta.scaler_std};

    Segments train_set = make_segments(data, scaler, data.split.train, config);
    Segments val_set = make_segments(data, scaler, data.split.val, config);
    stage("model");
    // CPU peaks count from here, like the estimate and engine::measure (Progress).
    const bool count_cpu = !dev.on_cuda && memory::cpu_counter_installed();
    const std::int64_t cpu_baseline = count_cpu ? memory::cpu_current_bytes() : 0;
    if (count_cpu) memory::reset_cpu_peak();
    const auto read_peaks = [&](std::int64_t& allocated, std::int64_t& reserved) {
      if (count_cpu) {
        allocated = reserved = memory::cpu_peak_bytes() - cpu_baseline;
      } else {
        allocated = detail::peak_allocated_bytes(dev);
        reserved = detail::peak_reserved_bytes(dev);
      }
    };
    Forecaster f(config, meta, attention, dev.device);
    train_set = train_set.to(dev.device);  // the same tensors on the CPU
    val_set = val_set.to(dev.device);
    const std::int64_t M = train_set.history.size(0);
    const std::int64_t B = std::min<std::int64_t>(config.memory.batch_size, M);
    if (M == 0) throw std::invalid_argument("dataset: the training split holds no complete window");

    torch::optim::AdamW optimizer(
        f.denoiser_parameters(),
        torch::optim::AdamWOptions(tc.learning_rate).weight_decay(tc.weight_decay));
    std::int64_t start_step = 0;
    double best_val = -1;
    std::int64_t stale = 0;

    // ---- resume, or stage 1 ----
    if (!request.resume_from.empty()) {
      auto counters = f.load(request.resume_from, &optimizer, false);
      const auto counter = [&](const std::string& name, double fallback) {
        for (const auto& [k, v] : counters)
          if (k == name) return v;
        return fallback;
      };
      start_step = static_cast<std::int64_t>(counter("step", 0));
      best_val = counter("best_val_loss", -1);
      const bool same_optimizer = counter("learning_rate", -1) == tc.learning_rate &&
                                  counter("weight_decay", -1) == tc.weight_decay;
      if (same_optimizer) {
        f.load(request.resume_from, &optimizer, true);
        message("resumed from " + request.resume_from + " at step " + std::to_string(start_step));
      } else {
        message("resumed from " + request.resume_from + " at step " + std::to_string(start_step) +
                ": the optimizer settings changed (learning_rate " +
                std::to_string(counter("learning_rate", 0)) + " -> " +
                std::to_string(tc.learning_rate) + ", weight_decay " +
                std::to_string(counter("weight_decay", 0)) + " -> " +
                std::to_string(tc.weight_decay) +
                "), so the weights are kept and the optimizer starts fresh");
      }
    } else {
      stage("vae");
      torch::optim::AdamW vae_opt(f.vae->parameters(),
                                  torch::optim::AdamWOptions(kVaeLearningRate).weight_decay(0));
      f.vae->train();
      const auto started = Clock::now();
      for (std::int64_t step = 0; step < tc.vae_steps; ++step) {
        if (stop_requested()) {
          run.status = "stopped";
          run.finished = now_iso();
          message("stopped during stage 1 (the VAE); no checkpoint was written");
          return;
        }
        const torch::Tensor idx =
            torch::randint(M, {B}, torch::TensorOptions().dtype(torch::kLong).device(dev.device));
        const torch::Tensor images =
            torch::cat({f.history_views.encode(train_set.history.index_select(0, idx)),
                        f.future_views.encode(train_set.future.index_select(0, idx))},
                       0);  // [2B, 3, S, S]
        const double vae_lr =
            cosine_lr(kVaeLearningRate, step,
                      std::min<std::int64_t>(tc.warmup_steps, tc.vae_steps / 10), tc.vae_steps);
        set_lr(vae_opt, vae_lr);
        const nn::VaeLoss loss = nn::vae_loss(f.vae->forward(images), images, kVaeKlWeight);
        loss.total.backward();
        if (tc.grad_clip > 0) torch::nn::utils::clip_grad_norm_(f.vae->parameters(), tc.grad_clip);
        vae_opt.step();
        clear_grads(vae_opt);
        if (callbacks.on_progress) {
          Progress p;
          p.stage = "vae";
          p.step = step + 1;
          p.total_steps = tc.vae_steps;
          p.loss = loss.total.item<double>();
          p.lr = vae_lr;
          const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
          p.samples_per_second = double(2 * B * (step + 1)) / std::max(seconds, 1e-9);
          p.eta_seconds = seconds / double(step + 1) * double(tc.vae_steps - step - 1);
          read_peaks(p.peak_allocated_bytes, p.peak_reserved_bytes);
          callbacks.on_progress(p);
        }
      }
      f.vae->eval();
      for (auto& p : f.vae->parameters()) p.set_requires_grad(false);
      // Unit-variance latents for the diffusion (as in Rombach et al. 2022, sec. 4.3.2); without
      // a graph, so the probe holds no activations.
      torch::NoGradGuard no_grad;
      const torch::Tensor probe = encode_all(
          f, train_set.future.slice(0, 0, std::min<std::int64_t>(M, 2048)), false, 2 * B);
      const double spread = probe.std().item<double>();
      if (spread < 1e-3)
        message("warning: the VAE latents barely vary (std " + std::to_string(spread) +
                "); train stage 1 longer (training.vae_steps) or the forecasts will not depend on "
                "the noise");
      f.meta().latent_scale = 1.0 / std::max(spread, 1e-3);
    }
    f.vae->eval();
    for (auto& p : f.vae->parameters()) p.set_requires_grad(false);

    // Stage 1 quality: image reconstruction and the forecast readout of the future segments.
    const Segments& probe_set = val_set.history.size(0) > 0 ? val_set : train_set;
    {
      torch::NoGradGuard no_grad;
      const std::int64_t n = std::min<std::int64_t>(probe_set.future.size(0), kValSegments);
      double image_sum = 0, readout_sum = 0;
      for (std::int64_t b = 0; b < n; b += 2 * B) {  // chunks of the VAE step's batch
        const torch::Tensor fut = probe_set.future.slice(0, b, std::min(n, b + 2 * B));
        const torch::Tensor images = f.future_views.encode(fut);
        const torch::Tensor recon = f.vae->decode(f.vae->encode_mean(images));
        const double rows = double(fut.size(0));
        image_sum += torch::mse_loss(recon, images).item<double>() * rows;
        readout_sum += torch::mse_loss(f.future_views.decode_seg(recon), fut).item<double>() * rows;
      }
      const double image_mse = image_sum / double(std::max<std::int64_t>(n, 1));
      const double readout_mse = readout_sum / double(std::max<std::int64_t>(n, 1));
      result.vae_recon_mse = image_mse;
      message("VAE reconstruction MSE " + std::to_string(image_mse) + " on images; readout MSE " +
              std::to_string(readout_mse) +
              " on scaled values (the floor under the forecast error)");
      run.metrics.emplace_back("vae_recon_mse", image_mse);
      run.metrics.emplace_back("vae_readout_mse", readout_mse);
    }

    // ---- latents (cached, or encoded per batch) ----
    stage("diffusion");
    torch::Tensor z_hist, z_fut;
    if (config.memory.latent_caching) {
      z_hist = encode_all(f, train_set.history, true, 2 * B);
      z_fut = encode_all(f, train_set.future, false, 2 * B);
    }
    const std::int64_t V = std::min<std::int64_t>(val_set.history.size(0), kValSegments);
    torch::Tensor val_hist, val_zh, val_zf, val_t, val_noise;
    if (V > 0) {
      // Evenly spaced validation segments with fixed timesteps and noise.
      const torch::Tensor pick =
          torch::linspace(0, val_set.history.size(0) - 1, V).to(torch::kLong).to(dev.device);
      val_hist = val_set.history.index_select(0, pick);
      val_zh = encode_all(f, val_hist, true, 2 * B);
      val_zf = encode_all(f, val_set.future.index_select(0, pick), false, 2 * B);
      auto gen = at::make_generator<at::CPUGeneratorImpl>(tc.seed + 1);
      val_t = torch::randint(config.model.diffusion_steps, {V}, gen,
                             torch::TensorOptions().dtype(torch::kLong))
                  .to(dev.device);
      val_noise = torch::randn(val_zf.sizes(), gen, torch::TensorOptions()).to(dev.device);
    }
    // In chunks of the training batch, so validation needs no more memory than a training step;
    // the chunk MSEs weighted by their sizes give the MSE over all V segments.
    const auto validate = [&]() -> double {
      torch::NoGradGuard no_grad;
      double sum = 0;
      for (std::int64_t b = 0; b < V; b += B) {
        const std::int64_t e = std::min(V, b + B);
        const torch::Tensor t = val_t.slice(0, b, e);
        const auto noised =
            f.diffusion.add_noise(val_zf.slice(0, b, e), t, val_noise.slice(0, b, e));
        compat::CudaAutocast cast(autocast, half);
        const double mse = torch::mse_loss(f.denoise(true, noised.x_t, t, val_zh.slice(0, b, e),
                                                     val_hist.slice(0, b, e))
                                               .to(torch::kFloat32),
                                           noised.target)
                               .item<double>();
        sum += mse * double(e - b);
      }
      return sum / double(V);
    };

    // ---- stage 2 ----
    const std::int64_t per_epoch = (M + B - 1) / B;
    const std::int64_t total = tc.steps > 0 ? tc.steps : std::int64_t(tc.epochs) * per_epoch;
    const auto params = f.denoiser_parameters();
    LossScaler scaler_fp16;
    scaler_fp16.enabled = autocast && half == at::kHalf;
    const auto counters = [&](std::int64_t step) {
      return std::vector<std::pair<std::string, double>>{{"step", double(step)},
                                                         {"best_val_loss", best_val},
                                                         {"learning_rate", tc.learning_rate},
                                                         {"weight_decay", tc.weight_decay}};
    };
    const std::string last_path = (std::filesystem::path(request.run_dir) / "last.pt").string();
    const std::string best_path = (std::filesystem::path(request.run_dir) / "best.pt").string();
    run.status = "completed";
    f.unet->train();
    if (f.tokens) f.tokens->train();
    torch::Tensor perm;
    double speed = 0, last_val = -1, last_loss = 0;
    std::int64_t step = start_step;
    auto tick = Clock::now();
    for (; step < total; ++step) {
      if (request.simulate_oom_at_step > 0 && step + 1 == request.simulate_oom_at_step)
        throw EngineError(ErrorKind::OutOfMemory,
                          "out of memory at step " + std::to_string(step + 1) +
                              " (simulated: TrainRequest::simulate_oom_at_step)");
      if (stop_requested()) {
        run.status = "stopped";
        message("stopped at step " + std::to_string(step) + "; last checkpoint: " + last_path);
        break;
      }
      const std::int64_t in_epoch = step % per_epoch;
      if (in_epoch == 0 || !perm.defined())
        perm = torch::randperm(M, torch::TensorOptions().dtype(torch::kLong).device(dev.device));
      const torch::Tensor idx = perm.slice(0, in_epoch * B, std::min(M, (in_epoch + 1) * B));
      const torch::Tensor hist = train_set.history.index_select(0, idx);
      const torch::Tensor zh =
          z_hist.defined() ? z_hist.index_select(0, idx) : f.history_latents(hist);
      const torch::Tensor z0 = z_fut.defined()
                                   ? z_fut.index_select(0, idx)
                                   : f.future_latents(train_set.future.index_select(0, idx));
      const torch::Tensor t =
          torch::randint(config.model.diffusion_steps, {idx.size(0)},
                         torch::TensorOptions().dtype(torch::kLong).device(dev.device));
      const auto noised = f.diffusion.add_noise(z0, t, torch::randn_like(z0));
      const double lr = cosine_lr(tc.learning_rate, step, tc.warmup_steps, total);
      set_lr(optimizer, lr);
      torch::Tensor loss;
      {
        compat::CudaAutocast cast(autocast, half);
        loss = torch::mse_loss(f.denoise(false, noised.x_t, t, zh, hist).to(torch::kFloat32),
                               noised.target);
      }
      (scaler_fp16.enabled ? loss * scaler_fp16.scale : loss).backward();
      if (scaler_fp16.unscale(params)) {
        if (tc.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, tc.grad_clip);
        optimizer.step();
      }
      clear_grads(optimizer);
      // EMA warm-up: the decay grows linearly from 0 so early averages do not drag in random
      // weights.
      const double decay =
          tc.ema_warmup_steps > 0
              ? tc.ema_decay * std::min(1.0, double(step + 1) / double(tc.ema_warmup_steps))
              : tc.ema_decay;
      f.update_ema(decay);
      last_loss = loss.item<double>();

      const bool epoch_end = (step + 1) % per_epoch == 0;
      const bool validate_now = V > 0 && ((step + 1) % tc.validate_every == 0 || step + 1 == total);
      if (validate_now) {
        last_val = validate();
        if (best_val < 0 || last_val < best_val) {
          best_val = last_val;
          stale = 0;
          f.save(best_path, &optimizer, counters(step + 1));
        } else {
          ++stale;
        }
      }
      if (epoch_end) f.save(last_path, &optimizer, counters(step + 1));

      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - tick).count();
      tick = now;
      const double rate = double(idx.size(0)) / std::max(dt, 1e-9);
      speed = speed == 0 ? rate : 0.9 * speed + 0.1 * rate;
      if (callbacks.on_progress) {
        Progress p;
        p.stage = "diffusion";
        p.step = step + 1;
        p.total_steps = total;
        p.epoch = (step + 1) / per_epoch;
        p.loss = last_loss;
        p.val_loss = last_val;
        p.lr = lr;
        p.samples_per_second = speed;
        p.eta_seconds = double(total - step - 1) * double(B) / std::max(speed, 1e-9);
        read_peaks(p.peak_allocated_bytes, p.peak_reserved_bytes);
        callbacks.on_progress(p);
      }
      if (validate_now && tc.early_stop_patience > 0 && stale >= tc.early_stop_patience) {
        ++step;
        message("early stop at step " + std::to_string(step) + ": no validation improvement in " +
                std::to_string(stale) + " validations (best " + std::to_string(best_val) + ")");
        break;
      }
    }
    f.save(last_path, &optimizer, counters(step));
    if (best_val < 0)
      f.save(best_path, &optimizer, counters(step));  // no validation split: best = last
    run.steps = step;
    run.finished = now_iso();
    run.checkpoint_last = last_path;
    run.checkpoint_best = best_path;
    read_peaks(run.peak_allocated_bytes, run.peak_reserved_bytes);
    run.metrics.emplace_back("final_train_loss", last_loss);
    if (best_val >= 0) run.metrics.emplace_back("best_val_loss", best_val);
    result.best_val_loss = best_val;
  });
  return result;
}

}  // namespace latentcast::engine
