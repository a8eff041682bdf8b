#include "app/project/estimate_target.h"

#include <algorithm>
#include <stdexcept>

#include "model/attention/availability.h"
#include "model/data/dataset.h"
#include "model/data/split.h"

namespace latentcast::project {

estimator::DeviceSpec target_device(const DeviceReport& report, const std::string& device,
                                    const std::string& gpu, long long capacity,
                                    const std::string& option_prefix) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw std::invalid_argument(option_prefix + "device: expected cpu, cuda or auto, got '" +
                                device + "'");
  estimator::DeviceSpec spec;
  if (!gpu.empty()) {
    const auto preset = estimator::preset_device(gpu);
    if (!preset) {
      std::string keys;
      for (const auto& p : estimator::gpu_presets()) keys += (keys.empty() ? "" : ", ") + p.key;
      throw std::invalid_argument(option_prefix + "gpu: unknown preset '" + gpu + "' (one of " +
                                  keys + ")");
    }
    spec = *preset;
  } else if (device == "cuda" || (device == "auto" && report.cuda_available)) {
    if (!report.cuda_available)
      throw std::runtime_error(option_prefix + "device cuda: " + report.reason);
    const GpuInfo& g = report.gpus.front();
    spec.name = "cuda:0 (" + g.name + ")";  // the engine's name for it, as calibrations record it
    spec.cuda = true;
    spec.capacity_bytes = g.total_bytes;
    spec.major = g.major;
    spec.minor = g.minor;
    spec.expandable_segments = report.expandable_segments;
  } else {
    spec.name = "cpu";
  }
  if (capacity > 0) spec.capacity_bytes = capacity;
  return spec;
}

estimator::DataSize data_size(const data::Table& table, const DatasetConfig& d) {
  const data::SplitRows split = data::compute_split(table.rows(), d.split, d.lookback, d.horizon);
  const auto channels = static_cast<std::int64_t>(data::input_columns(table, d).size());
  estimator::DataSize size;
  size.train_segments = data::window_count(split.train, d.lookback, d.horizon, d.stride) * channels;
  size.val_segments = data::window_count(split.val, d.lookback, d.horizon, d.stride) * channels;
  return size;
}

estimator::EstimateRequest estimate_request(const ProjectConfig& config, const DeviceReport& report,
                                            const estimator::DeviceSpec& spec, bool preset,
                                            const estimator::DataSize& data) {
  estimator::EstimateRequest request;
  request.config = config;
  request.device = spec;
  request.data = data;
  if (!preset) {
    // For a preset, the estimator resolves the backend from the preset itself.
    const int head_dim = config.model.channels.back() / std::max(1, config.model.heads);
    request.device.sdpa =
        backend_availability(AttentionBackend::Sdpa, report, spec.cuda, head_dim).available;
    request.device.flash_kernel =
        backend_availability(AttentionBackend::Flash, report, spec.cuda, head_dim).available;
    request.backend =
        resolve_backend(config.memory.attention_backend, report, spec.cuda, head_dim, nullptr);
  }
  return request;
}

Calibration make_calibration(const engine::MeasureResult& m, const estimator::Estimate& e,
                             const std::string& when) {
  Calibration c;
  c.device = m.device;
  c.measured = when;
  c.steps = m.steps;
  c.measured_allocated_bytes = m.peak_allocated_bytes;
  c.measured_reserved_bytes = m.peak_reserved_bytes;
  c.context_bytes = m.context_bytes;
  c.predicted_allocated_bytes = e.allocated_bytes;
  c.predicted_reserved_bytes = e.reserved_bytes;
  if (e.context_bytes > 0) c.allocator = e.expandable_segments ? "expandable" : "classic";
  return c;
}

void store_calibration(std::vector<Calibration>& list, const Calibration& c) {
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const Calibration& old) { return old.device == c.device; }),
             list.end());
  list.push_back(c);
}

}  // namespace latentcast::project
