// What compute this build and this machine offer: LibTorch version, CUDA support, GPUs with their
// name, compute capability and memory. Torch-free header; the availability checks and memory probe
// use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace latentcast {

struct GpuInfo {
  int index = 0;
  std::string name;          // e.g. "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;  // compute capability
  std::int64_t total_bytes = 0;
  std::int64_t free_bytes = 0;  // at the time of detection
  int multiprocessors = 0;
};

struct DeviceReport {
  std::string torch_version;    // e.g. "1.13.1"
  bool cuda_compiled = false;   // our CUDA kernels and a CUDA LibTorch are linked in
  bool cuda_available = false;  // ...and a usable GPU is present
  std::string reason;           // why CUDA is unavailable, empty when available
  std::vector<GpuInfo> gpus;
  // Whether LibTorch's CUDA caching allocator maps memory in expandable segments (our default,
  // configure_cuda_allocator) rather than one cudaMalloc per segment: the estimator models both.
  bool expandable_segments = true;
};

// LibTorch's CUDA caching allocator settings, in the environment variables it reads on its first
// use. Latentcast runs it with expandable segments: memory is mapped page by page at the end of one
// growing segment per stream, so freed space is reused across sizes and the reserve stays within
// a few percent of the allocated peak (with one cudaMalloc per segment, library workspaces left
// it 60 % above at batch 64, docs/benchmarks.md). A user's own PYTORCH_CUDA_ALLOC_CONF or
// PYTORCH_ALLOC_CONF is kept, and LibTorch before 2.1 (no expandable segments) is left alone.
// Call at the start of main, before any CUDA work.
void configure_cuda_allocator();
// Whether the allocator settings in the environment ask for expandable segments.
bool cuda_expandable_segments();

// Detects devices. Never throws: problems land in `reason`.
DeviceReport detect_devices();

// Result of moving a tensor to a GPU, running our own kernel on it (y = a*x + b) next to a LibTorch
// op, and bringing it back: the proof that the build, the driver and LibTorch agree on the device.
struct RoundTrip {
  std::int64_t elements = 0;
  double max_abs_error = 0;    // ours against the expected values computed on the CPU
  bool torch_matches = false;  // LibTorch's a*x+b on the GPU equals ours bit for bit
  std::string device;          // "cuda:0"
};
// Throws std::runtime_error with the reason when CUDA is unavailable.
RoundTrip round_trip_through_gpu(int index, std::int64_t elements);

}  // namespace latentcast
