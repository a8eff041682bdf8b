// Counting of LibTorch's CPU allocations (torch-free header): after install_cpu_counter(), every
// byte LibTorch allocates on the CPU through its allocator (tensors, autograd buffers, workspaces)
// is counted, current and peak, so memory behaviour is measurable on machines without a GPU. The
// peak is what the estimator's tensor part is compared with on the CPU.
#pragma once

#include <cstdint>

namespace latentcast::memory {

// Installs the counter in front of LibTorch's CPU allocator (once per process; later calls do
// nothing). Memory allocated before it is installed is not counted, also when it is freed later.
void install_cpu_counter();
bool cpu_counter_installed();

// Bytes currently held by LibTorch CPU tensors allocated since the counter was installed.
std::int64_t cpu_current_bytes();
// The largest cpu_current_bytes() since install or the last reset_cpu_peak().
std::int64_t cpu_peak_bytes();
// Starts a new peak measurement from the current figure.
void reset_cpu_peak();

}  // namespace latentcast::memory
