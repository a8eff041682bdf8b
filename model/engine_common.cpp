// Data preparation, device choice and error translation shared by the engine's entry points.
#include <cstring>
#include <new>

#include "model/attention/availability.h"
#include "model/data/dataset.h"
#include "model/data/windows.h"
#include "model/engine_internal.h"

#if LATENTCAST_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace latentcast::engine::detail {

PreparedData prepare_data(const ProjectConfig& config) {
  PreparedData p;
  translate_errors([&] {
    p.table = data::load_table(config.dataset);
    data::check_columns(p.table, config.dataset);
    p.columns = data::input_columns(p.table, config.dataset);
    for (const auto& t : data::target_columns(p.table, config.dataset))
      p.target_index.push_back(std::find(p.columns.begin(), p.columns.end(), t) -
                               p.columns.begin());
    p.raw = data::table_tensor(p.table, p.columns);
    p.split = data::compute_split(p.table.rows(), config.dataset.split, config.dataset.lookback,
                                  config.dataset.horizon);
  });
  return p;
}

DeviceChoice choose_device(const std::string& requested) {
  DeviceChoice choice;
  choice.report = detect_devices();
  if (requested != "cpu" && requested != "cuda" && requested != "auto")
    throw EngineError(ErrorKind::BadInput,
                      "--device: must be cpu, cuda or auto, got \"" + requested + "\"");
  const bool want_cuda =
      requested == "cuda" || (requested == "auto" && choice.report.cuda_available);
  if (want_cuda && !choice.report.cuda_available)
    throw EngineError(ErrorKind::Device, "CUDA requested but unavailable: " + choice.report.reason +
                                             " (use --device cpu)");
  if (want_cuda) {
    choice.device = torch::Device(torch::kCUDA, 0);
    choice.on_cuda = true;
    choice.description = "cuda:0 (" + choice.report.gpus.front().name + ")";
  } else {
    choice.description = "cpu";
  }
  return choice;
}

AttentionSettings attention_for(const ProjectConfig& config, const DeviceChoice& device,
                                std::string* note) {
  AttentionSettings s;
  // The head dimension at the finest attention level (the one that sets the kernel requirements).
  int head_dim = 0;
  if (!config.model.attention_levels.empty()) {
    const int level = *std::min_element(config.model.attention_levels.begin(),
                                        config.model.attention_levels.end());
    head_dim = config.model.channels[std::size_t(level)] / config.model.heads;
  }
  translate_errors([&] {
    s.backend = resolve_backend(config.memory.attention_backend, device.report, device.on_cuda,
                                head_dim, note);
  });
  s.slice_size = config.memory.slice_size;
  s.window_size = config.memory.window_size;
  s.window_overlap = config.memory.window_overlap;
  return s;
}

void translate_errors(const std::function<void()>& f) {
  try {
    f();
  } catch (const EngineError&) {
    throw;
  } catch (const data::CsvError& e) {
    throw EngineError(ErrorKind::BadInput, e.what());
  } catch (const std::invalid_argument& e) {
    throw EngineError(ErrorKind::BadInput, e.what());
  } catch (const std::bad_alloc&) {
    throw EngineError(ErrorKind::OutOfMemory, "out of host memory");
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("out of memory") != std::string::npos)
      throw EngineError(ErrorKind::OutOfMemory, "out of memory: " + what.substr(0, 300));
    throw EngineError(ErrorKind::Internal, what.substr(0, 2000));
  }
}

std::int64_t peak_allocated_bytes(const DeviceChoice& device) {
#if LATENTCAST_WITH_CUDA
  if (device.on_cuda) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.device.index());
    return stats.allocated_bytes[0].peak;  // index 0: the aggregate over pool types
  }
#endif
  (void)device;
  return 0;
}

std::int64_t peak_reserved_bytes(const DeviceChoice& device) {
#if LATENTCAST_WITH_CUDA
  if (device.on_cuda) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.device.index());
    return stats.reserved_bytes[0].peak;
  }
#endif
  (void)device;
  return 0;
}

torch::Tensor segments(const torch::Tensor& windows) {
  return windows.permute({0, 2, 1}).reshape({-1, windows.size(1)});  // [N * C, len]
}

torch::Tensor unsegment(const torch::Tensor& segs, std::int64_t channels) {
  return segs.view({-1, channels, segs.size(1)}).permute({0, 2, 1}).contiguous();  // [N, len, C]
}

}  // namespace latentcast::engine::detail
