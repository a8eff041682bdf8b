// Which attention backends this build can run, and why not: the one place that answers, so the CLI,
// the GUI and the model refuse a backend with the same reason.
#include "model/attention/availability.h"

#include <torch/version.h>

#include <stdexcept>
#include <string>
#include <utility>

#if LATENTCAST_WITH_CUDA
#include "model/kernels/flash/flash.h"
#endif

namespace latentcast {
namespace {

Availability yes() {
  return {true, ""};
}
Availability no(std::string reason) {
  return {false, std::move(reason)};
}

}  // namespace

bool is_exact(AttentionBackend backend) {
  return backend == AttentionBackend::Math || backend == AttentionBackend::Sliced ||
         backend == AttentionBackend::Flash || backend == AttentionBackend::Sdpa;
}

const char* describe(AttentionBackend backend) {
  switch (backend) {
    case AttentionBackend::Math:
      return "reference; materialises the N x N scores";
    case AttentionBackend::Sliced:
      return "exact; query slices, scores of one slice at a time";
    case AttentionBackend::Flash:
      return "exact; tiled kernel with online softmax, O(N) extra memory";
    case AttentionBackend::Sage:
      return "INT8 Q.K^T with smoothed K, float softmax and P.V";
    case AttentionBackend::Linear:
      return "elu+1 feature maps, O(N d^2)";
    case AttentionBackend::Channel:
      return "attention across channels, learnable temperature per head";
    case AttentionBackend::LocalWindow:
      return "overlapping w x w windows, constant memory per token";
    case AttentionBackend::Sdpa:
      return "LibTorch scaled_dot_product_attention";
    case AttentionBackend::Auto:
      return "the fastest available exact backend";
  }
  return "";
}

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
#if LATENTCAST_WITH_CUDA
      if (!kernels::flash::head_dim_supported(head_dim))
        return no("the CUDA flash kernel takes head dims that are multiples of 8 up to 128, not " +
                  std::to_string(head_dim));
      if (!devices.cuda_available)
        return no("no usable CUDA device" + (devices.reason.empty() ? "" : ": " + devices.reason));
      {
        // The engine runs on cuda:0; asking the runtime once keeps per-call checks cheap.
        static const std::string why = kernels::flash::device_support(0);
        if (!why.empty()) return no("the CUDA flash kernel cannot run here: " + why);
      }
      return yes();  // bf16/fp16 kernels; float32 runs are computed in bf16 (attention.h)
#else
      return no(
          "the CUDA flash kernel is not in this build (this LibTorch is CPU-only); flash runs on "
          "the CPU");
#endif
    case AttentionBackend::Sage:
      if (!on_cuda) return yes();  // the CPU reference: any head dim
#if LATENTCAST_WITH_CUDA
      if (!kernels::flash::head_dim_supported(head_dim))
        return no("the CUDA sage kernel takes head dims that are multiples of 8 up to 128, not " +
                  std::to_string(head_dim));
      if (!devices.cuda_available)
        return no("no usable CUDA device" + (devices.reason.empty() ? "" : ": " + devices.reason));
      {
        // Same library and the same sm_80 floor as the flash kernels (INT8 and 16-bit mma.sync).
        static const std::string why = kernels::flash::device_support(0);
        if (!why.empty()) return no("the CUDA sage kernel cannot run here: " + why);
      }
      return yes();
#else
      return no(
          "the CUDA sage kernel is not in this build (this LibTorch is CPU-only); sage runs on the "
          "CPU");
#endif
    case AttentionBackend::Auto:
      return yes();  // always resolves to an available backend
  }
  return no("unknown attention backend");
}

AttentionBackend resolve_backend(AttentionBackend requested, const DeviceReport& devices,
                                 bool on_cuda, int head_dim, std::string* note) {
  if (requested == AttentionBackend::Auto) {
    // The exact backends in order of measured speed (docs/benchmarks.md): LibTorch's fused SDPA
    // where it exists, then our flash kernel (on the CPU, 2-3x math with O(N) memory), then math.
    std::string skipped;
    for (const AttentionBackend b : {AttentionBackend::Sdpa, AttentionBackend::Flash}) {
      const Availability a = backend_availability(b, devices, on_cuda, head_dim);
      if (a.available) {
        if (note)
          *note = std::string("auto: using ") + to_string(b) + " (fastest available exact backend" +
                  (skipped.empty() ? "" : "; " + skipped) + ")";
        return b;
      }
      skipped +=
          (skipped.empty() ? "" : "; ") + std::string(to_string(b)) + " unavailable: " + a.reason;
    }
    if (note) *note = "auto: using math (" + skipped + ")";
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
