// Device detection through LibTorch and, in CUDA builds, our own CUDA runtime queries and kernel.
#include "model/device.h"

#include "model/torch_compat.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#if LATENTCAST_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/kernels/device_probe.h"
#endif

namespace latentcast {

namespace {

// Expandable segments exist from LibTorch 2.1; earlier allocators reject the option.
constexpr bool kHasExpandableSegments = LATENTCAST_TORCH_AT_LEAST(2, 1);

// The allocator settings in the environment: PYTORCH_CUDA_ALLOC_CONF, else PYTORCH_ALLOC_CONF
// (LibTorch 2.9+); an empty variable counts as unset. Null when neither is set.
const char* allocator_conf() {
  for (const char* name : {"PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return nullptr;
}

}  // namespace

void configure_cuda_allocator() {
  if (kHasExpandableSegments && allocator_conf() == nullptr)
    setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", 1);
}

bool cuda_expandable_segments() {
  const char* conf = allocator_conf();
  if (!kHasExpandableSegments || conf == nullptr) return false;
  std::string s(conf);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  const auto at = s.find("expandable_segments:");
  return at != std::string::npos && s.compare(at + 20, 4, "true") == 0;
}

DeviceReport detect_devices() {
  DeviceReport report;
  report.expandable_segments = cuda_expandable_segments();
  report.torch_version = TORCH_VERSION;
#if LATENTCAST_WITH_CUDA
  report.cuda_compiled = true;
  std::string error;
  const int count = kernels::cuda_device_count(&error);
  if (count == 0) {
    report.reason = error.empty() ? "no CUDA device found" : "CUDA runtime: " + error;
    return report;
  }
  if (!torch::cuda::is_available()) {
    report.reason = "LibTorch does not see the CUDA devices the runtime reports";
    return report;
  }
  for (int i = 0; i < count; ++i) {
    kernels::CudaDeviceProps p;
    if (!kernels::cuda_device_props(i, &p, &error)) {
      report.reason = "cannot query CUDA device " + std::to_string(i) + ": " + error;
      continue;
    }
    report.gpus.push_back(
        {i, p.name, p.major, p.minor, p.total_bytes, p.free_bytes, p.multiprocessors});
  }
  report.cuda_available = !report.gpus.empty();
#else
  report.reason = "built without CUDA (this LibTorch " + report.torch_version + " is CPU-only)";
#endif
  return report;
}

RoundTrip round_trip_through_gpu(int index, std::int64_t elements) {
#if LATENTCAST_WITH_CUDA
  const DeviceReport report = detect_devices();
  if (!report.cuda_available) throw std::runtime_error("CUDA unavailable: " + report.reason);
  if (index < 0 || index >= static_cast<int>(report.gpus.size()))
    throw std::runtime_error("no CUDA device " + std::to_string(index));
  if (elements < 1) throw std::runtime_error("round trip needs at least one element");

  const torch::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  const c10::cuda::CUDAGuard guard(device);
  constexpr float kA = 1.5f, kB = -0.25f;
  const torch::Tensor host = torch::linspace(-4.0, 4.0, elements, torch::kFloat32);
  const torch::Tensor x = host.to(device);
  torch::Tensor ours = torch::empty_like(x);
  const std::string error =
      kernels::launch_affine(x.data_ptr<float>(), ours.data_ptr<float>(), elements, kA, kB,
                             c10::cuda::getCurrentCUDAStream(device.index()).stream());
  if (!error.empty()) throw std::runtime_error("affine kernel launch failed: " + error);
  const torch::Tensor theirs = torch::addcmul(torch::full_like(x, kB), x, torch::full_like(x, kA));

  RoundTrip result;
  result.elements = elements;
  result.device = "cuda:" + std::to_string(index);
  const torch::Tensor back = ours.to(torch::kCPU);
  // fmaf rounds once; so does the double reference rounded to float.
  const torch::Tensor expected = (host.to(torch::kFloat64) * kA + kB).to(torch::kFloat32);
  result.max_abs_error = (back - expected).abs().max().item<double>();
  result.torch_matches = torch::allclose(back, theirs.to(torch::kCPU), 0.0, 1e-6);
  return result;
#else
  (void)index;
  (void)elements;
  throw std::runtime_error(detect_devices().reason);
#endif
}

}  // namespace latentcast
