// The tiny training configuration the model tests share: two demo columns, 16 x 16 images, a
// two-level UNet with attention at level 1, math attention; a few steps take seconds on a CPU.
#pragma once

#include "estimator/config.h"

namespace lctest {

inline latentcast::ProjectConfig tiny_project() {
  latentcast::ProjectConfig c;
  c.dataset.path = "builtin:demo";
  c.dataset.columns = {"load", "temperature"};
  c.dataset.lookback = 32;
  c.dataset.horizon = 16;
  c.dataset.stride = 8;
  c.model.image_size = 16;
  c.model.latent_factor = 4;
  c.model.latent_channels = 4;
  c.model.channels = {16, 32};
  c.model.attention_levels = {1};
  c.model.heads = 2;
  c.model.diffusion_steps = 100;
  c.memory.attention_backend = latentcast::AttentionBackend::Math;
  c.memory.batch_size = 32;
  return c;
}

}  // namespace lctest
