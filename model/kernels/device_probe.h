// Host entry points of our CUDA device probe: device queries through the CUDA runtime and a small
// elementwise kernel used to prove a tensor round trip. Plain C++ types only (no CUDA headers).
#pragma once

#include <cstdint>
#include <string>

namespace latentcast::kernels {

struct CudaDeviceProps {
  std::string name;
  int major = 0, minor = 0;
  std::int64_t total_bytes = 0;
  std::int64_t free_bytes = 0;
  int multiprocessors = 0;
};

// Number of visible CUDA devices; 0 with `error` set when the runtime or driver fails.
int cuda_device_count(std::string* error);
// Properties of one device; false with `error` set on failure.
bool cuda_device_props(int index, CudaDeviceProps* props, std::string* error);
// y[i] = a * x[i] + b on device pointers, on the given stream (cudaStream_t passed as void*).
// Returns an empty string on success or the CUDA error text.
std::string launch_affine(const float* x, float* y, std::int64_t n, float a, float b, void* stream);

}  // namespace latentcast::kernels
