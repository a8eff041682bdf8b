// CUDA device queries and the affine kernel of the device round-trip check.
#include "model/kernels/device_probe.h"

#include <cuda_runtime.h>

namespace latentcast::kernels {
namespace {

__global__ void affine_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t n,
                              float a, float b) {
  const std::int64_t stride = std::int64_t(blockDim.x) * gridDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = __fmaf_rn(a, x[i], b);
}

}  // namespace

int cuda_device_count(std::string* error) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (error) *error = cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return count;
}

bool cuda_device_props(int index, CudaDeviceProps* props, std::string* error) {
  cudaDeviceProp p{};
  cudaError_t status = cudaGetDeviceProperties(&p, index);
  if (status != cudaSuccess) {
    if (error) *error = cudaGetErrorString(status);
    return false;
  }
  props->name = p.name;
  props->major = p.major;
  props->minor = p.minor;
  props->total_bytes = static_cast<std::int64_t>(p.totalGlobalMem);
  props->multiprocessors = p.multiProcessorCount;
  int previous = 0;
  cudaGetDevice(&previous);
  std::size_t free_b = 0, total_b = 0;
  status = cudaSetDevice(index);
  if (status == cudaSuccess) status = cudaMemGetInfo(&free_b, &total_b);
  cudaSetDevice(previous);
  if (status != cudaSuccess) {
    if (error) *error = cudaGetErrorString(status);
    return false;
  }
  props->free_bytes = static_cast<std::int64_t>(free_b);
  return true;
}

std::string launch_affine(const float* x, float* y, std::int64_t n, float a, float b,
                          void* stream) {
  if (n <= 0) return {};
  constexpr int kThreads = 256;
  const std::int64_t blocks64 = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(blocks64 < 65535 ? blocks64 : 65535);
  affine_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n, a, b);
  const cudaError_t status = cudaGetLastError();
  return status == cudaSuccess ? std::string() : std::string(cudaGetErrorString(status));
}

}  // namespace latentcast::kernels
