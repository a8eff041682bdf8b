// Which attention backends can run here, and why not (torch-free: the CLI and the GUI ask it too).
#pragma once

#include <string>

#include "estimator/config.h"
#include "model/device.h"

namespace latentcast {

struct Availability {
  bool available = false;
  std::string reason;  // why not; empty when available
};

// Exact backends compute softmax attention itself (math, sliced, flash, sdpa); the others are their
// own operators or approximations (sage within its quantisation error).
bool is_exact(AttentionBackend backend);
// One line on what a backend does, for `latentcast-cli backends` and tooltips.
const char* describe(AttentionBackend backend);

// For a backend on this build and device (on_cuda: the run uses the GPU) and a head dimension.
Availability backend_availability(AttentionBackend backend, const DeviceReport& devices,
                                  bool on_cuda, int head_dim);

// The backend a run uses: `auto` becomes the fastest available exact backend, and `note` (if given)
// says which and why ("auto: using sdpa (fastest available exact backend)"; for a named backend
// "math: as configured"); an unavailable backend throws std::invalid_argument
// "memory.attention_backend: 'sdpa' is unavailable here: <reason>" (never a silent fallback).
AttentionBackend resolve_backend(AttentionBackend requested, const DeviceReport& devices,
                                 bool on_cuda, int head_dim, std::string* note = nullptr);

}  // namespace latentcast
