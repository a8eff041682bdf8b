// Dispatch of the flash kernels by head dim and element type, and the device check.
#include <cuda_runtime.h>

#include <atomic>

#include <cstdlib>
#include <string>

#include "model/kernels/flash/flash.h"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {
namespace {

// Smallest instantiated head dim that holds d; 0 when none does.
int padded_head_dim(int d) {
  if (d <= 0 || d % 8 != 0) return 0;
  if (d <= 32) return 32;
  if (d <= 64) return 64;
  if (d <= 128) return 128;
  return 0;
}

std::string text(cudaError_t status) {
  return status == cudaSuccess ? std::string() : std::string(cudaGetErrorString(status));
}

template <class T>
cudaError_t fwd(const FlashFwdParams& p, cudaStream_t s) {
  switch (padded_head_dim(p.d)) {
    case 32:
      return run_fwd_hdim<32, T>(p, s);
    case 64:
#if LATENTCAST_FLASH_WGMMA
      if (hopper_kernels_run_here()) {
        const cudaError_t status = run_fwd_ws_hdim<64, T>(p, s);
        if (status != cudaErrorNotSupported) return status;
      }
#endif
      return run_fwd_hdim<64, T>(p, s);
    case 128:
#if LATENTCAST_FLASH_WGMMA
      if (hopper_kernels_run_here()) return run_fwd_wgmma_hdim<128, T>(p, s);
#endif
      return run_fwd_hdim<128, T>(p, s);
  }
  return cudaErrorInvalidValue;
}

template <class T>
cudaError_t bwd(const FlashBwdParams& p, cudaStream_t s) {
  switch (padded_head_dim(p.d)) {
    case 32:
      return run_bwd_hdim<32, T>(p, s);
    case 64:
#if LATENTCAST_FLASH_WGMMA
      if (hopper_kernels_run_here()) {
        const cudaError_t status = run_bwd_ws_hdim<64, T>(p, s);
        if (status != cudaErrorNotSupported) return status;
      }
#endif
      return run_bwd_hdim<64, T>(p, s);
    case 128:
      return run_bwd_hdim<128, T>(p, s);
  }
  return cudaErrorInvalidValue;
}

__global__ void probe_kernel() {}

}  // namespace

bool hopper_kernels_run_here() {
#if LATENTCAST_FLASH_WGMMA
  // LATENTCAST_FLASH_FWD=mma keeps every forward and backward on the mma.sync kernels (the tests
  // run both; the benchmark compares them). All the sm_90a kernels are in one library: the head
  // dim 128 forward's machine code stands for them. The answer is per device (a host may mix an
  // H100 with an A100) and kept once known.
  static const bool allowed = [] {
    const char* v = std::getenv("LATENTCAST_FLASH_FWD");
    return !(v && std::string(v) == "mma");
  }();
  if (!allowed) return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  constexpr int kKnownDevices = 64;
  static std::atomic<int> known[kKnownDevices] = {};  // 0 not asked yet, 1 runs, -1 does not
  const bool cached = device >= 0 && device < kKnownDevices;
  if (cached) {
    const int answer = known[device].load(std::memory_order_relaxed);
    if (answer != 0) return answer > 0;
  }
  const bool runs = fwd_wgmma_runs_here<128, __nv_bfloat16>();
  if (cached) known[device].store(runs ? 1 : -1, std::memory_order_relaxed);
  return runs;
#else
  return false;
#endif
}

bool head_dim_supported(int d) {
  return padded_head_dim(d) != 0;
}

std::string device_support(int device) {
  cudaDeviceProp props{};
  cudaError_t status = cudaGetDeviceProperties(&props, device);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return std::string("CUDA runtime: ") + cudaGetErrorString(status);
  }
  // mma.sync with bf16 needs sm_80; the binary must also hold machine code for this GPU.
  if (props.major < 8)
    return "needs a GPU of compute capability 8.0 or newer (this one is " +
           std::to_string(props.major) + "." + std::to_string(props.minor) + ")";
  cudaFuncAttributes attrs{};
  status = cudaFuncGetAttributes(&attrs, probe_kernel);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return "the kernels are not built for compute capability " + std::to_string(props.major) + "." +
           std::to_string(props.minor) +
           " (set LATENTCAST_CUDA_ARCHITECTURES): " + cudaGetErrorString(status);
  }
  return {};
}

std::string run_fwd(const FlashFwdParams& p, Dtype dtype, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  return text(dtype == Dtype::BFloat16 ? fwd<__nv_bfloat16>(p, s) : fwd<__half>(p, s));
}

std::string run_bwd(const FlashBwdParams& p, Dtype dtype, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  return text(dtype == Dtype::BFloat16 ? bwd<__nv_bfloat16>(p, s) : bwd<__half>(p, s));
}

}  // namespace latentcast::kernels::flash
