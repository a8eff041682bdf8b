#include "app/cli/estimate_input.h"

#include <stdexcept>

#include "app/cli/args.h"
#include "model/attention/availability.h"
#include "model/data/dataset.h"
#include "model/data/split.h"
#include "model/device.h"

namespace latentcast::cli {

EstimateTarget estimate_target(const ProjectConfig& config, const std::string& device,
                               const std::string& gpu, long long capacity) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device: expected cpu, cuda or auto, got '" + device + "'");
  EstimateTarget t;
  t.request.config = config;
  const DeviceReport report = detect_devices();
  estimator::DeviceSpec& spec = t.request.device;
  if (!gpu.empty()) {
    const auto preset = estimator::preset_device(gpu);
    if (!preset) {
      std::string keys;
      for (const auto& p : estimator::gpu_presets()) keys += (keys.empty() ? "" : ", ") + p.key;
      throw UsageError("--gpu: unknown preset '" + gpu + "' (one of " + keys + ")");
    }
    spec = *preset;
  } else if (device == "cuda" || (device == "auto" && report.cuda_available)) {
    if (!report.cuda_available) throw std::runtime_error("--device cuda: " + report.reason);
    const GpuInfo& g = report.gpus.front();
    spec.name = "cuda:0 (" + g.name + ")";  // the engine's name for it, as calibrations record it
    spec.cuda = true;
    spec.capacity_bytes = g.total_bytes;
    spec.major = g.major;
    spec.minor = g.minor;
  } else {
    spec.name = "cpu";
  }
  if (capacity > 0) spec.capacity_bytes = capacity;
  const int head_dim = config.model.channels.back() / std::max(1, config.model.heads);
  // The backend the engine would run (the same resolution as training), when the target is this
  // machine; for a preset, the estimator resolves it from the preset.
  if (gpu.empty()) {
    spec.sdpa = backend_availability(AttentionBackend::Sdpa, report, spec.cuda, head_dim).available;
    spec.flash_kernel =
        backend_availability(AttentionBackend::Flash, report, spec.cuda, head_dim).available;
    t.request.backend =
        resolve_backend(config.memory.attention_backend, report, spec.cuda, head_dim, nullptr);
  }
  // Segments = windows x input channels, from the dataset itself.
  const data::Table table = data::load_table(config.dataset);
  data::check_columns(table, config.dataset);
  const auto& d = config.dataset;
  const data::SplitRows split = data::compute_split(table.rows(), d.split, d.lookback, d.horizon);
  const auto channels = static_cast<std::int64_t>(data::input_columns(table, d).size());
  t.request.data.train_segments =
      data::window_count(split.train, d.lookback, d.horizon, d.stride) * channels;
  t.request.data.val_segments =
      data::window_count(split.val, d.lookback, d.horizon, d.stride) * channels;
  return t;
}

}  // namespace latentcast::cli
