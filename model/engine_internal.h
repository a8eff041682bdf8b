// Pieces shared by the engine's train, forecast and evaluate (LibTorch; internal to model/).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "model/attention/attention.h"
#include "model/data/csv.h"
#include "model/data/split.h"
#include "model/device.h"
#include "model/engine.h"

namespace latentcast::engine::detail {

struct PreparedData {
  data::Table table;
  std::vector<std::string> columns;        // inputs, in channel order
  std::vector<std::int64_t> target_index;  // channels of the target columns
  torch::Tensor raw;                       // [T, C] float32, original units
  data::SplitRows split;
};

// Loads and checks the project's dataset; bad data or settings throw EngineError(BadInput).
PreparedData prepare_data(const ProjectConfig& config);

struct DeviceChoice {
  torch::Device device = torch::kCPU;
  bool on_cuda = false;
  DeviceReport report;
  std::string description;  // "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)"
};
// "cpu", "cuda" or "auto"; an unavailable CUDA throws EngineError(Device) with the reason.
DeviceChoice choose_device(const std::string& requested);

// Resolves memory.attention_backend for this device and the model's head dimension; `note` says
// what `auto` chose. Unavailable backends throw EngineError(BadInput) with the reason.
AttentionSettings attention_for(const ProjectConfig& config, const DeviceChoice& device,
                                std::string* note);

// Runs f, turning the exceptions a user can cause into EngineError with the right kind.
void translate_errors(const std::function<void()>& f);

// Peak CUDA memory of the caching allocator since the last reset (0 on CPU).
std::int64_t peak_allocated_bytes(const DeviceChoice& device);
std::int64_t peak_reserved_bytes(const DeviceChoice& device);

// Windows x channels flattened to univariate segments: [N, len, C] -> [N * C, len].
torch::Tensor segments(const torch::Tensor& windows);
// And back: [N * C, len] -> [N, len, C].
torch::Tensor unsegment(const torch::Tensor& segments, std::int64_t channels);

}  // namespace latentcast::engine::detail
