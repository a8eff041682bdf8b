// The attention dispatcher and its reference backends: `math` (materialised scores) and `sdpa`
// (LibTorch's fused operator, LibTorch >= 2.0 only).
#include "model/attention/attention.h"

#include <torch/version.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "model/attention/availability.h"

namespace latentcast {
namespace {

// Only the refusal path needs the device report; detecting once keeps repeated refusals cheap.
const DeviceReport& devices() {
  static const DeviceReport report = detect_devices();
  return report;
}

void check_shapes(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
              "attention expects q, k, v of shape [B, heads, N, d]");
  TORCH_CHECK(k.sizes() == v.sizes(), "attention: k and v differ in shape");
  TORCH_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
              "attention: q and k differ in batch, heads or head dim");
}

// Set by tests only (set_attention_observer); read on every call.
AttentionObserver& observer() {
  static AttentionObserver o;
  return o;
}

}  // namespace

void set_attention_observer(AttentionObserver o) {
  observer() = std::move(o);
}

// Ref: Vaswani et al. 2017, "Attention Is All You Need", eq. 1.
torch::Tensor math_attention(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v) {
  check_shapes(q, k, v);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const torch::Tensor scores = torch::matmul(q * scale, k.transpose(-2, -1));  // [B, heads, Nq, Nk]
  // Half-precision exponentials lose the small probabilities, so softmax runs in at least float32
  // (float64 stays float64).
  const auto softmax_type = c10::promoteTypes(q.scalar_type(), torch::kFloat32);
  const torch::Tensor p = torch::softmax(scores, -1, softmax_type).to(v.scalar_type());
  return torch::matmul(p, v);  // [B, heads, Nq, d]
}

AttentionSettings cross_attention_settings(const AttentionSettings& settings) {
  AttentionSettings s = settings;
  if (s.backend == AttentionBackend::Channel || s.backend == AttentionBackend::LocalWindow)
    s.backend = AttentionBackend::Sliced;
  return s;
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const AttentionSettings& settings, const AttentionLayout& layout) {
  check_shapes(q, k, v);
  if (observer()) observer()(q, k, v);
  const auto refuse = [&]() -> torch::Tensor {
    const Availability a = backend_availability(settings.backend, devices(), q.is_cuda(),
                                                static_cast<int>(q.size(-1)));
    throw std::invalid_argument(
        std::string("attention backend '") + to_string(settings.backend) +
        "' cannot run here: " + (a.available ? "these tensors are on another device" : a.reason));
  };
  switch (settings.backend) {
    case AttentionBackend::Math:
      return math_attention(q, k, v);
    case AttentionBackend::Sliced:
      return sliced_attention(q, k, v, settings.slice_size);
    case AttentionBackend::Flash:
      if (q.is_cuda()) {
#if LATENTCAST_WITH_CUDA
        if (!backend_availability(settings.backend, devices(), true, static_cast<int>(q.size(-1)))
                 .available)
          return refuse();
        return flash_attention_cuda(q, k, v);
#else
        return refuse();
#endif
      }
      return flash_attention_cpu(q, k, v);
    case AttentionBackend::Sage:
      if (q.is_cuda()) {
#if LATENTCAST_WITH_CUDA
        if (!backend_availability(settings.backend, devices(), true, static_cast<int>(q.size(-1)))
                 .available)
          return refuse();
        return sage_attention_cuda(q, k, v);
#else
        return refuse();
#endif
      }
      return sage_attention_cpu(q, k, v);
    case AttentionBackend::Linear:
      return linear_attention(q, k, v);
    case AttentionBackend::Channel:
      if (!layout.temperature.defined())
        throw std::invalid_argument(
            "attention backend 'channel' needs a temperature per head (a self-attention layer)");
      return channel_attention(q, k, v, layout.temperature);
    case AttentionBackend::LocalWindow:
      if (layout.height <= 0)
        throw std::invalid_argument(
            "attention backend 'local_window' needs the token grid (a self-attention layer)");
      return local_window_attention(q, k, v, layout.height, layout.width, settings.window_size,
                                    settings.window_overlap);
    case AttentionBackend::Sdpa:
#if TORCH_VERSION_MAJOR >= 2
      return at::scaled_dot_product_attention(q, k, v);  // [B, heads, Nq, d]
#else
      return refuse();
#endif
    case AttentionBackend::Auto:
      throw std::invalid_argument(
          "attention backend 'auto' must be resolved (resolve_backend) before the model runs");
  }
  return refuse();
}

}  // namespace latentcast
