// The attention benchmark of `latentcast-bench attention` (torch-free header): every available
// backend, and on CUDA LibTorch's SDPA with each of its backends pinned, timed on the same inputs
// in one run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace latentcast::bench {

struct AttentionShape {
  std::int64_t batch, heads, tokens, head_dim;  // (B, H, N, d)
};

struct AttentionBenchOptions {
  std::string device = "cpu";  // cpu | cuda
  std::vector<AttentionShape> shapes;
  std::vector<std::string> dtypes = {"float32"};        // float32 | float64 | bfloat16 | float16
  std::vector<std::string> passes = {"fwd", "fwdbwd"};  // fwd | fwdbwd
  std::vector<std::string> backends;  // ours and sdpa_*; empty: all that apply here
  double min_seconds = 0.3;           // per row and timing (ms, ms_sync): repeat until this long
  int max_repeats = 50;               // calls (ms_sync) or batches (ms) at most
  int slice_size = 1024, window_size = 8, window_overlap = 2;
};

struct AttentionBenchRow {
  std::string backend, device, dtype, pass;
  std::int64_t batch = 0, heads = 0, tokens = 0, head_dim = 0;
  // Milliseconds per call, medians. ms: calls queued back to back and synchronised once a batch,
  // as a training step runs them (the device's time when it is the bottleneck: the host's launch
  // work overlaps the device's). ms_sync: one call then a synchronise (its latency: the host's
  // work before and between the launches shows).
  double ms = 0, ms_sync = 0;
  double tflops = 0;                  // at ms: 4 B H N^2 d forward, 3.5x that forward + backward
  std::int64_t peak_extra_bytes = 0;  // beyond the inputs, during one call
  double max_abs_err = -1;  // against math in float32; -1 where not comparable (other operators)
  double cos_sim = -1;      // of the output against math in float32; -1 where not comparable
  double rel_l1 = -1;       // sum |out - math| / sum |math|; -1 where not comparable
  std::string error;        // non-empty: the row did not run (unavailable, out of memory)
};

// LibTorch's intra-op threads (at::parallel_for, BLAS) in this process, for the benchmark's header.
int intra_op_threads();

// Runs the benchmark; `on_row` (if given) sees each row as soon as it is measured.
std::vector<AttentionBenchRow> run_attention_bench(
    const AttentionBenchOptions& options,
    const std::function<void(const AttentionBenchRow&)>& on_row = {});

}  // namespace latentcast::bench
