#include "estimator/estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>
#include <stdexcept>
#include <system_error>

#include "estimator/model_graph.h"

namespace latentcast::estimator {
namespace {

constexpr std::int64_t kGiB = std::int64_t(1) << 30, kMiB = std::int64_t(1) << 20;
// Configurations whose largest tensor passes this are refused before any integer arithmetic.
constexpr double kAbsurdBytes = 1e15;

// CUDA context, cuDNN/cuBLAS handles and kernels of a LibTorch 2.11 process (CUDA 13) on an H200,
// measured as (total - free) - reserved at the end of the runs of docs/benchmarks.md ("estimator":
// 771 to 791 MiB). Other GPUs and drivers differ by some 100 MiB; calibration replaces it.
constexpr std::int64_t kTypicalContextBytes = 780 * kMiB;
[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument(field + ": " + why);
}

void check_config(const ProjectConfig& cfg, const DataSize& data) {
  const auto& m = cfg.model;
  const auto& mem = cfg.memory;
  const auto positive = [](const char* field, long long v, long long max) {
    if (v <= 0) bad(field, "must be positive, got " + std::to_string(v));
    if (v > max)
      bad(field, std::to_string(v) + " is beyond the largest supported " + std::to_string(max));
  };
  positive("memory.batch_size", mem.batch_size, 1 << 20);
  positive("model.image_size", m.image_size, 8192);
  positive("model.latent_channels", m.latent_channels, 1024);
  positive("model.heads", m.heads, 1024);
  positive("dataset.lookback", cfg.dataset.lookback, 1 << 20);
  positive("dataset.horizon", cfg.dataset.horizon, 1 << 20);
  if (m.latent_factor != 1 && m.latent_factor != 2 && m.latent_factor != 4 && m.latent_factor != 8)
    bad("model.latent_factor", "must be 1, 2, 4 or 8, got " + std::to_string(m.latent_factor));
  if (m.image_size % m.latent_factor != 0)
    bad("model.image_size", std::to_string(m.image_size) +
                                " is not divisible by the latent factor " +
                                std::to_string(m.latent_factor));
  if (m.channels.empty()) bad("model.channels", "must list at least one level");
  for (const int c : m.channels) positive("model.channels", c, 16384);
  if (m.channels[0] % 2 != 0) bad("model.channels", "channels[0] must be even");
  const std::int64_t side = m.image_size / m.latent_factor;
  const std::int64_t multiple = std::int64_t{1} << (m.channels.size() - 1);
  if (side % multiple != 0)
    bad("model.image_size", "the latent side " + std::to_string(side) + " must be divisible by " +
                                std::to_string(multiple) + " (" +
                                std::to_string(m.channels.size()) + " UNet levels)");
  for (const int l : m.attention_levels)
    if (l < 0 || l >= int(m.channels.size()))
      bad("model.attention_levels",
          "level " + std::to_string(l) + " outside 0.." + std::to_string(m.channels.size() - 1));
  for (std::size_t l = 0; l < m.channels.size(); ++l) {
    bool attends = l + 1 == m.channels.size();
    for (const int a : m.attention_levels) attends = attends || a == int(l);
    if (attends && m.channels[l] % m.heads != 0)
      bad("model.heads", std::to_string(m.heads) + " does not divide the channels (" +
                             std::to_string(m.channels[l]) + ") of level " + std::to_string(l));
  }
  if (mem.slice_size <= 0) bad("memory.slice_size", "must be positive");
  if (mem.window_size <= 0) bad("memory.window_size", "must be positive");
  if (mem.window_overlap < 0 || mem.window_overlap >= mem.window_size)
    bad("memory.window_overlap", "must be in [0, window_size)");
  if (data.train_segments < 0 || data.val_segments < 0) bad("dataset", "negative segment counts");
  // The largest tensors, in double: full-resolution VAE features and the attention scores.
  const double b = mem.batch_size, s = m.image_size;
  const double vae = 2 * b * std::max(16.0, m.channels[0] / 2.0) * s * s * 4;
  double scores = 0;
  for (const int l : m.attention_levels) {
    const double n = std::pow(double(side) / double(std::int64_t{1} << l), 2);
    scores = std::max(scores, b * m.heads * n * n * 4);
  }
  double widest = 0;
  for (const int c : m.channels) widest = std::max<double>(widest, c);
  const double unet = b * widest * double(side) * double(side) * 4;
  const double cache = double(data.train_segments) * m.latent_channels * double(side) * side * 4;
  const double largest = std::max({vae, scores, unet, cache});
  if (!(largest < kAbsurdBytes)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "needs tensors of %.3g bytes; sizes beyond 1 PB are refused",
                  largest);
    bad(vae >= scores && vae >= unet ? "memory.batch_size" : "model.image_size", buf);
  }
}

AttentionBackend resolve(const EstimateRequest& r) {
  if (r.backend != AttentionBackend::Auto) return r.backend;
  const AttentionBackend asked = r.config.memory.attention_backend;
  if (asked != AttentionBackend::Auto) return asked;
  if (r.device.sdpa) return AttentionBackend::Sdpa;
  if (!r.device.cuda || r.device.flash_kernel) return AttentionBackend::Flash;
  return AttentionBackend::Math;
}

}  // namespace

const std::vector<GpuPreset>& gpu_presets() {
  static const std::vector<GpuPreset> presets = {
      {"6gb", "6 GB (GeForce RTX 3060 Laptop, RTX 2060)", 6 * kGiB},
      {"8gb", "8 GB (GeForce RTX 4060, RTX 3070)", 8 * kGiB},
      {"12gb", "12 GB (GeForce RTX 4070, RTX 3060)", 12 * kGiB},
      {"16gb", "16 GB (GeForce RTX 4080, RTX A4000)", 16 * kGiB},
      {"24gb", "24 GB (GeForce RTX 4090, RTX 3090, L4)", 24 * kGiB},
      {"48gb", "48 GB (RTX 6000 Ada, L40S, A40)", 48 * kGiB},
      {"80gb", "80 GB (H100, A100 80GB)", 80 * kGiB},
      {"141gb", "141 GB (H200)", 141 * kGiB, 9},
  };
  return presets;
}

std::optional<DeviceSpec> preset_device(const std::string& key) {
  for (const auto& p : gpu_presets()) {
    if (p.key != key) continue;
    DeviceSpec d;
    d.name = p.description;
    d.cuda = true;
    d.capacity_bytes = p.capacity_bytes;
    d.major = p.major;
    d.sdpa = true;
    d.flash_kernel = false;
    return d;
  }
  return std::nullopt;
}

std::optional<Calibrated> calibrated(const Estimate& estimate,
                                     const std::vector<Calibration>& calibrations,
                                     const std::string& device) {
  for (auto c = calibrations.rbegin(); c != calibrations.rend(); ++c) {
    if (c->device != device || c->predicted_reserved_bytes <= 0 || c->measured_reserved_bytes <= 0)
      continue;
    const std::string mode = c->allocator.empty() ? "classic" : c->allocator;
    if (estimate.context_bytes > 0 &&
        mode != (estimate.expandable_segments ? "expandable" : "classic"))
      continue;
    Calibrated out;
    out.ratio = double(c->measured_reserved_bytes) / double(c->predicted_reserved_bytes);
    out.total_bytes = static_cast<std::int64_t>(double(estimate.reserved_bytes) * out.ratio) +
                      (estimate.context_bytes > 0 ? c->context_bytes : 0);
    out.measured = c->measured;
    return out;
  }
  return std::nullopt;
}

std::string format_bytes(std::int64_t bytes) {
  const double b = std::fabs(double(bytes));
  char buf[32];
  if (b >= double(kGiB))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(kGiB));
  else if (b >= double(kMiB))
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(kMiB));
  else
    std::snprintf(buf, sizeof buf, "%.0f KiB", double(bytes) / 1024.0);
  return buf;
}

Estimate estimate_peak(const EstimateRequest& request) {
  check_config(request.config, request.data);
  DataSize data = request.data;
  if (data.train_segments == 0) data.train_segments = request.config.memory.batch_size;
  Estimate e;
  e.backend = resolve(request);
  if (e.backend == AttentionBackend::Auto) e.backend = AttentionBackend::Math;
  DeviceRules rules = request.device.cuda ? DeviceRules::for_cuda() : DeviceRules::for_cpu();
  rules.cuda = request.device.cuda;
  rules.expandable_segments = request.device.expandable_segments;
  rules.hopper = request.device.cuda && request.device.major == 9;
  const Precision precision = request.config.memory.precision;
  rules.autocast = rules.cuda && precision != Precision::Fp32;
  rules.half = precision == Precision::Fp16 ? Dtype::F16 : Dtype::BF16;
  const ReplayResult r = replay_training(request.config, e.backend, data, rules);
  e.allocated_bytes = r.peak;
  e.vae_stage_bytes = r.vae_stage_peak;
  e.diffusion_stage_bytes = r.diffusion_stage_peak;
  e.peak_phase = r.peak_phase;
  e.parameters = r.parameters;
  e.vae_parameters = r.vae_parameters;
  e.blocks = r.blocks;
  for (int c = 0; c < kCats; ++c)
    if (r.breakdown[c] != 0) e.breakdown.push_back({cat_name(Cat(c)), r.breakdown[c]});
  e.reserved_bytes = e.allocated_bytes;
  if (request.device.cuda) {
    e.reserved_bytes = std::max(r.reserved, e.allocated_bytes);
    e.expandable_segments = request.device.expandable_segments;
    e.context_bytes =
        request.device.context_bytes >= 0 ? request.device.context_bytes : kTypicalContextBytes;
    e.breakdown.push_back({"allocator_reserve", e.reserved_bytes - e.allocated_bytes});
    e.breakdown.push_back({"cuda_context", e.context_bytes});
  }
  e.total_bytes = e.reserved_bytes + e.context_bytes;
  e.capacity_bytes = request.device.capacity_bytes;
  e.fits = e.capacity_bytes <= 0 || e.total_bytes <= e.capacity_bytes;
  e.margin_bytes = e.capacity_bytes > 0 ? e.capacity_bytes - e.total_bytes : 0;
  return e;
}

Estimate estimate(const EstimateRequest& request) {
  // Each active memory option against its unoptimised choice, the others unchanged: one replay
  // each. The replays share nothing, so they run on their own threads beside the main one.
  struct Variant {
    std::string key, label;
    EstimateRequest request;
  };
  std::vector<Variant> variants;
  const auto saving = [&](const std::string& key, const std::string& label,
                          const std::function<void(EstimateRequest&)>& undo) {
    EstimateRequest plain = request;
    undo(plain);
    variants.push_back({key, label, std::move(plain)});
  };
  const MemoryConfig& mem = request.config.memory;
  const AttentionBackend backend = resolve(request);
  if (backend != AttentionBackend::Math && backend != AttentionBackend::Auto)
    saving("memory.attention_backend", std::string(to_string(backend)) + " attention (vs math)",
           [](EstimateRequest& r) {
             r.backend = AttentionBackend::Math;
             r.config.memory.attention_backend = AttentionBackend::Math;
           });
  if (mem.gradient_checkpointing != CheckpointMode::None)
    saving(
        "memory.gradient_checkpointing",
        std::string("checkpointing ") + to_string(mem.gradient_checkpointing) + " (vs none)",
        [](EstimateRequest& r) { r.config.memory.gradient_checkpointing = CheckpointMode::None; });
  if (mem.precision != Precision::Fp32 && request.device.cuda)
    saving("memory.precision", std::string(to_string(mem.precision)) + " (vs fp32)",
           [](EstimateRequest& r) { r.config.memory.precision = Precision::Fp32; });
  if (!mem.latent_caching)
    saving("memory.latent_caching", "no latent caching (vs caching)",
           [](EstimateRequest& r) { r.config.memory.latent_caching = true; });

  std::vector<std::future<std::int64_t>> totals;
  totals.reserve(variants.size());
  for (const Variant& v : variants) {
    const auto replay = [&v] { return estimate_peak(v.request).total_bytes; };
    try {
      totals.push_back(std::async(std::launch::async, replay));
    } catch (const std::system_error&) {  // no thread to be had: replay it here, later
      totals.push_back(std::async(std::launch::deferred, replay));
    }
  }
  Estimate e = estimate_peak(request);  // may throw; the futures' destructors wait for them
  for (std::size_t i = 0; i < variants.size(); ++i)
    e.savings.push_back({variants[i].key, variants[i].label, totals[i].get() - e.total_bytes});
  return e;
}

Recommendation recommend(const EstimateRequest& request, double safety) {
  Recommendation rec;
  rec.capacity_bytes = request.device.capacity_bytes;
  rec.safety = safety;
  if (rec.capacity_bytes <= 0)
    throw std::invalid_argument("recommend: the device capacity is unknown");
  const double budget = safety * double(rec.capacity_bytes);
  const auto total_with = [&](const std::function<void(EstimateRequest&)>& change) {
    EstimateRequest r = request;
    change(r);
    return estimate_peak(r).total_bytes;
  };
  rec.fits_now = double(estimate_peak(request).total_bytes) <= budget;
  // Largest batch size: the peak grows with the batch, so bisect.
  int lo = 0, hi = 1;
  const auto fits_batch = [&](int b) {
    return double(total_with([b](EstimateRequest& r) { r.config.memory.batch_size = b; })) <=
           budget;
  };
  while (hi <= (1 << 16) && fits_batch(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > (1 << 16)) hi = (1 << 16) + 1;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (fits_batch(mid) ? lo : hi) = mid;
  }
  rec.max_batch_size = lo;
  if (rec.fits_now) return rec;  // nothing to change
  // Single changes, cheapest in speed first: exact attention backends, precision, then
  // checkpointing (recomputation), approximate backends, smaller batches, smaller images.
  const MemoryConfig& mem = request.config.memory;
  const auto consider = [&](const std::string& key, const std::string& value,
                            const std::function<void(EstimateRequest&)>& change) {
    const std::int64_t total = total_with(change);
    if (double(total) <= budget) rec.changes.push_back({key, value, total});
  };
  const AttentionBackend current = resolve(request);
  const auto backend = [&](AttentionBackend b) {
    if (current == b) return;
    consider("memory.attention_backend", to_string(b), [b](EstimateRequest& r) {
      r.backend = b;
      r.config.memory.attention_backend = b;
    });
  };
  if (request.device.cuda && request.device.sdpa) backend(AttentionBackend::Sdpa);
  if (!request.device.cuda || request.device.flash_kernel) backend(AttentionBackend::Flash);
  if (request.device.cuda && mem.precision == Precision::Fp32)
    consider("memory.precision", "bf16",
             [](EstimateRequest& r) { r.config.memory.precision = Precision::Bf16; });
  for (const CheckpointMode c : {CheckpointMode::Attention, CheckpointMode::All})
    if (mem.gradient_checkpointing != c)
      consider("memory.gradient_checkpointing", to_string(c),
               [c](EstimateRequest& r) { r.config.memory.gradient_checkpointing = c; });
  if (mem.latent_caching)
    consider("memory.latent_caching", "false",
             [](EstimateRequest& r) { r.config.memory.latent_caching = false; });
  backend(AttentionBackend::Sliced);
  backend(AttentionBackend::LocalWindow);
  if (rec.max_batch_size >= 1 && rec.max_batch_size < mem.batch_size)
    rec.changes.push_back(
        {"memory.batch_size", std::to_string(rec.max_batch_size),
         total_with([&](EstimateRequest& r) { r.config.memory.batch_size = rec.max_batch_size; })});
  const int f = request.config.model.latent_factor;
  const int levels = int(request.config.model.channels.size());
  for (int s = request.config.model.image_size / 2; s >= 8; s /= 2) {
    if ((s / f) % (1 << (levels - 1)) != 0) break;
    const std::int64_t total =
        total_with([s](EstimateRequest& r) { r.config.model.image_size = s; });
    if (double(total) <= budget) {
      rec.changes.push_back({"model.image_size", std::to_string(s), total});
      break;
    }
  }
  return rec;
}

}  // namespace latentcast::estimator
