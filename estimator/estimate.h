// The VRAM estimate: the peak memory of training a project's configuration on a device, with its
// breakdown, the saving of each memory option, whether it fits, and recommendations that make it
// fit. Pure C++ (no LibTorch, no Qt): fast enough to recompute on every change in the GUI.
//
// How: the training program is replayed on a model of LibTorch's memory behaviour (model_graph.h):
// every tensor the real step allocates, kept as long as the real one, including what autograd saves
// for the backward, the gradients, AdamW's moments, the EMA copy, the cached latents and the stage
// 1 (VAE) steps. What it predicts is the peak of tensor bytes (LibTorch's allocated bytes); on CUDA
// the caching allocator's reserve and the context are added on top.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "estimator/config.h"

namespace latentcast::estimator {

struct DeviceSpec {
  std::string name = "cpu";
  bool cuda = false;
  std::int64_t capacity_bytes = 0;  // 0: unknown (no fit check)
  int major = 0, minor = 0;         // compute capability
  bool sdpa = false;                // LibTorch >= 2 (auto resolves to sdpa)
  bool flash_kernel = true;         // our flash kernel runs here (auto's second choice)
  std::int64_t context_bytes = -1;  // CUDA context and libraries; -1: the typical figure
  // LibTorch's caching allocator maps expandable segments: Latentcast's setting (see
  // model/device.h); false for one cudaMalloc per segment (a user's own allocator settings).
  bool expandable_segments = true;
};

struct GpuPreset {
  std::string key;  // "6gb", ... "80gb", "141gb"
  std::string description;
  std::int64_t capacity_bytes;
  int major = 8;  // compute capability: 9 for the Hopper card (our sm_90a kernels run there)
};
const std::vector<GpuPreset>& gpu_presets();
// A CUDA device of the preset's capacity and compute capability (LibTorch >= 2), or nullopt.
std::optional<DeviceSpec> preset_device(const std::string& key);

// Training and validation segments (windows x channels) of the dataset: the cached latents and
// the data on the device scale with them.
struct DataSize {
  std::int64_t train_segments = 0;
  std::int64_t val_segments = 0;
};

struct EstimateRequest {
  ProjectConfig config;
  DeviceSpec device;
  DataSize data;
  // The backend the engine will use; Auto: resolved here from the device (sdpa, flash, math).
  AttentionBackend backend = AttentionBackend::Auto;
};

struct Term {
  std::string name;  // snake_case: weights, gradients, optimizer, ema, data, activations, ...
  std::int64_t bytes = 0;
};

struct Saving {
  std::string option;  // the project key, e.g. "memory.attention_backend"
  std::string label;   // "flash attention (vs math)"
  std::int64_t bytes;  // how much lower the total is than with the unoptimised choice
};

struct Estimate {
  std::int64_t total_bytes = 0;      // what the device must hold: reserved + context on CUDA
  std::int64_t allocated_bytes = 0;  // peak tensor bytes (LibTorch allocated; CPU: everything)
  std::int64_t reserved_bytes = 0;   // CUDA: the caching allocator's peak reserve; CPU: allocated
  std::int64_t context_bytes = 0;    // CUDA context and libraries (0 on the CPU)
  bool expandable_segments = false;  // CUDA: the allocator mode the reserve was predicted for
  std::vector<Term> breakdown;       // sums to total_bytes
  struct Block {
    std::string name;
    std::int64_t bytes;
  };
  std::vector<Block> blocks;  // activation bytes kept for the backward per UNet block
  std::string peak_phase;     // e.g. "diffusion step: backward"
  std::int64_t vae_stage_bytes = 0, diffusion_stage_bytes = 0;  // allocated peaks per stage
  std::int64_t parameters = 0;                                  // trainable denoiser parameters
  std::int64_t vae_parameters = 0;                              // VAE parameters
  AttentionBackend backend = AttentionBackend::Math;            // as resolved
  std::vector<Saving> savings;                                  // of each active memory option
  std::int64_t capacity_bytes = 0;
  bool fits = true;               // total <= capacity (true when the capacity is unknown)
  std::int64_t margin_bytes = 0;  // capacity - total
};

// Throws std::invalid_argument naming the field for a configuration that cannot be built or whose
// tensors would be absurd (e.g. "memory.batch_size: 1000000000 needs tensors of 4.1 PB").
Estimate estimate(const EstimateRequest& request);
// The same without the savings (one replay): what recommend() and the savings call.
Estimate estimate_peak(const EstimateRequest& request);

// What to change to fit a capacity.
struct Change {
  std::string key;               // project key
  std::string value;             // new value, as in the project file
  std::int64_t total_bytes = 0;  // the estimate with this change alone
};
struct Recommendation {
  std::int64_t capacity_bytes = 0;
  double safety = 0.9;          // fraction of the capacity a plan may use
  int max_batch_size = 0;       // largest batch size that fits (0: not even 1)
  std::vector<Change> changes;  // cheapest single changes that fit, cheapest (in speed) first
  bool fits_now = false;
};
// For request.device.capacity_bytes (> 0): the largest batch size that fits under `safety` x the
// capacity, and the single changes (backend, checkpointing, precision, caching, batch size, image
// size) that make the configuration fit, ordered by their cost in speed.
Recommendation recommend(const EstimateRequest& request, double safety = 0.9);

// The estimate for a device the project was measured on (a Calibration with the same device
// name): the predicted reserve scaled by measured / predicted of that measurement, plus the
// measured context. nullopt without a usable calibration for `device` (on CUDA, one measured with
// the same allocator mode: a ratio measured with classic segments says nothing about expandable).
struct Calibrated {
  std::int64_t total_bytes = 0;
  double ratio = 1.0;    // measured / predicted reserve at the measurement
  std::string measured;  // when
};
std::optional<Calibrated> calibrated(const Estimate& estimate,
                                     const std::vector<Calibration>& calibrations,
                                     const std::string& device);

// "1.23 GiB", "512 MiB", "12 KiB".
std::string format_bytes(std::int64_t bytes);

}  // namespace latentcast::estimator
