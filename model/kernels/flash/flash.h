// Host entry points of our flash attention kernels (forward and FlashAttention-2 backward): plain
// parameter structs and launch functions, no CUDA or LibTorch headers, so model/ can include it.
#pragma once

#include <cstdint>
#include <string>

namespace latentcast::kernels::flash {

enum class Dtype { BFloat16, Float16 };

// The most batch x heads one launch takes: the kernels' grids index them in gridDim.y. Callers
// with more split the batch (model/attention/batch_slices.h).
constexpr int kMaxBatchHeads = 65535;

// Strides are in elements; tensors are [B, heads, N, d] with unit stride along d. Pointers and the
// batch, head and row strides must be 16-byte aligned (multiples of 8 elements): the kernels move
// 16 bytes per copy.
struct FlashFwdParams {
  const void* q = nullptr;  // [B, heads, n_q, d]
  const void* k = nullptr;  // [B, heads, n_k, d]
  const void* v = nullptr;  // [B, heads, n_k, d]
  void* o = nullptr;        // [B, heads, n_q, d], written
  float* lse = nullptr;     // [B, heads, n_q] contiguous, written: log-sum-exp of the scaled scores
  std::int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  std::int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  std::int64_t v_batch_stride = 0, v_head_stride = 0, v_row_stride = 0;
  std::int64_t o_batch_stride = 0, o_head_stride = 0, o_row_stride = 0;
  int batch = 0, heads = 0, n_q = 0, n_k = 0, d = 0;
  float scale = 1.0f;  // applied to q k^T, usually 1/sqrt(d)
};

struct FlashBwdParams {
  const void* q = nullptr;  // as in the forward
  const void* k = nullptr;
  const void* v = nullptr;
  const void* o = nullptr;     // the forward's output
  const void* dout = nullptr;  // dL/dO, [B, heads, n_q, d]
  const float* lse = nullptr;  // the forward's log-sum-exp, [B, heads, n_q]
  float* delta = nullptr;      // workspace [B, heads, n_q]: rowsum(dO * O)
  float* dq_accum = nullptr;   // workspace [B, heads, n_q, d] contiguous, fp32 (zeroed here)
  void* dq = nullptr;          // outputs, [B, heads, N, d] contiguous
  void* dk = nullptr;
  void* dv = nullptr;
  std::int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  std::int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  std::int64_t v_batch_stride = 0, v_head_stride = 0, v_row_stride = 0;
  std::int64_t o_batch_stride = 0, o_head_stride = 0, o_row_stride = 0;
  std::int64_t do_batch_stride = 0, do_head_stride = 0, do_row_stride = 0;
  int batch = 0, heads = 0, n_q = 0, n_k = 0, d = 0;
  float scale = 1.0f;
};

// The head dims the kernels take: multiples of 8 up to 128 (32, 64 and 128 have their own
// instantiations; other sizes run in the next one up with the extra columns zero-filled).
bool head_dim_supported(int d);

// Empty when the kernels can run on `device` (their machine code matches it), else why not.
std::string device_support(int device);

// Launch on `stream` (a cudaStream_t passed as void*). Empty on success, else the CUDA error text;
// the caller also checks cudaGetLastError (C10_CUDA_KERNEL_LAUNCH_CHECK in the LibTorch wrapper).
std::string run_fwd(const FlashFwdParams& params, Dtype dtype, void* stream);
std::string run_bwd(const FlashBwdParams& params, Dtype dtype, void* stream);

}  // namespace latentcast::kernels::flash
