// The forecaster's training program replayed on the memory graph (graph.h): the same modules,
// shapes, op order and object lifetimes as model/ (nn/vae.cpp, nn/unet.cpp, nn/history_tokens.cpp,
// attention/, trainer.cpp), so the replay's peak is the peak LibTorch reaches. When the model code
// changes, this file changes with it; tests/estimator/test_estimator_accuracy holds the two
// together on the CPU. Internal to the estimator.
#pragma once

#include <string>
#include <vector>

#include "estimator/config.h"
#include "estimator/estimate.h"
#include "estimator/graph.h"

namespace latentcast::estimator {

struct ReplayResult {
  std::int64_t peak = 0;
  std::int64_t reserved = 0;  // CUDA: the caching allocator's reserve at the end (its peak)
  Bytes breakdown{};          // by category at the peak
  std::string peak_phase;     // where the peak happens
  std::int64_t vae_stage_peak = 0, diffusion_stage_peak = 0;
  std::vector<Estimate::Block> blocks;  // activation bytes kept per UNet block, diffusion step
  std::int64_t parameters = 0;          // trainable denoiser parameters (count)
  std::int64_t vae_parameters = 0;
};

// Replays model build, `steps`... of training: stage 1 (VAE) then stage 2 (diffusion), with the
// backend already resolved (not Auto).
ReplayResult replay_training(const ProjectConfig& config, AttentionBackend backend,
                             const DataSize& data, const DeviceRules& rules);

}  // namespace latentcast::estimator
