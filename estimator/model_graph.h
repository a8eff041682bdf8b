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

// Bytes the CUDA sage forward holds only while it runs (model/attention/sage_cuda.cpp): the INT8
// Q and K in rows of the kernels' padded head dim (model/kernels/sage/sage_api.cu: 32, 64 or 128;
// 64 for head dims up to 32 too on Hopper, whose forward reads 64-byte rows), their per-64-token
// scales, K's mean and the smoothing term, for bh batch-heads, n queries, m keys, head dim d.
std::int64_t sage_cuda_forward_workspace(std::int64_t bh, std::int64_t n, std::int64_t m,
                                         std::int64_t d, bool hopper);

}  // namespace latentcast::estimator
