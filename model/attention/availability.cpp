// Which attention backends this build can run, and why not: the one place that answers, so the CLI,
// the GUI and the model refuse a backend with the same reason.
#include "model/attention/availability.h"

#include <torch/version.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace latentcast {
namespace {


Availability yes() {
  return {true, ""};
}
Availability no(std::string reason) {
  return {false, std::move(reason)};
}

}  // namespace

Availability backend_availability(AttentionBackend backend, const DeviceReport& devices,
                                  bool on_cuda, int head_dim) {
  switch (backend) {
    case AttentionBackend::Math:
      return yes();
    case AttentionBackend::Sdpa:
#if TORCH_VERSION_MAJOR >= 2
      return yes();
#else
      return no("needs LibTorch >= 2.0, this is " TORCH_VERSION);
#endif
    case AttentionBackend::Sliced:
    case AttentionBackend::Linear:
    case AttentionBackend::Channel:
    case AttentionBackend::LocalWindow:
      return yes();  // LibTorch operators: every device, every head dim
    case AttentionBackend::Flash:
      if (!on_cuda) return yes();  // our CPU kernel: any head dim
      return no("the CUDA flash kernel is not in this build yet (issue 7); flash runs on the CPU");
    case AttentionBackend::Sage:
      if (!on_cuda) return yes();
      return no("the CUDA sage kernel is not in this build yet (issue 8); sage runs on the CPU");
    case AttentionBackend::Auto:
      return yes();  // always resolves to an available backend
  }
  return no("unknown attention backend");
}

AttentionBackend resolve_backend(AttentionBackend requested, const DeviceReport& devices,
                                 bool on_cuda, int head_dim, std::string* note) {
  if (requested == AttentionBackend::Auto) {
    // The exact backends by speed; math always runs.
    const Availability sdpa =
        backend_availability(AttentionBackend::Sdpa, devices, on_cuda, head_dim);
    if (sdpa.available) {
      if (note) *note = "auto: using sdpa (fastest available exact backend)";
      return AttentionBackend::Sdpa;
    }
    if (note) *note = "auto: using math (sdpa unavailable: " + sdpa.reason + ")";
    return AttentionBackend::Math;
  }
  const Availability a = backend_availability(requested, devices, on_cuda, head_dim);
  if (!a.available) {
    throw std::invalid_argument(std::string("memory.attention_backend: '") + to_string(requested) +
                                "' is unavailable here: " + a.reason);
  }
  if (note) *note = std::string(to_string(requested)) + ": as configured";
  return requested;
}

}  // namespace latentcast
