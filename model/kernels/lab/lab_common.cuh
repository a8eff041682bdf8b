// What the kernel lab's programs (flash_lab.cu, sage_lab.cu) share: the CUDA error check, copies
// of device results to the host, and CUDA-event timing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

inline std::vector<float> fetch_bf16(const __nv_bfloat16* p, size_t n) {
  std::vector<__nv_bfloat16> buf(n);
  CK(cudaMemcpy(buf.data(), p, n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = __bfloat162float(buf[i]);
  return out;
}

inline std::vector<float> fetch_f32(const float* p, size_t n) {
  std::vector<float> out(n);
  CK(cudaMemcpy(out.data(), p, n * 4, cudaMemcpyDeviceToHost));
  return out;
}

// Milliseconds per call of `once` over `reps` back-to-back calls (CUDA events on the default
// stream), after `warmup` calls.
template <class F>
float event_ms(int warmup, int reps, F once) {
  for (int i = 0; i < warmup; ++i) once();
  CK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  CK(cudaEventRecord(a));
  for (int i = 0; i < reps; ++i) once();
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return ms / reps;
}
