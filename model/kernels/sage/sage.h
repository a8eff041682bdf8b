// Host entry points of our sage (INT8) attention kernels: plain parameter structs and launch
// functions, no CUDA or LibTorch headers, so model/ can include it. The backward is the flash
// FlashAttention-2 backward (model/kernels/flash/flash.h) fed with the smoothed K, sage's output
// and its log-sum-exp; sage_fwd_kernel.cuh documents why.
#pragma once

#include <cstdint>
#include <string>

namespace latentcast::kernels::sage {

enum class Dtype { BFloat16, Float16 };

// Tokens per quantisation block of Q and of K (one float32 scale each), as in the CPU reference
// (model/attention/sage_cpu.cpp), so the two quantise to the same INT8 values.
constexpr int kQuantBlock = 64;

// The head dim the INT8 copies are laid out with: the instantiated head dim (32, 64 or 128) that
// holds d, columns past d zero (64 for every d up to 64 where the Hopper kernels run: their
// forward reads 64-byte rows); 0 when d is not a multiple of 8 up to 128.
int padded_head_dim(int d);

// The quantisation pass: the mean of K over tokens, then Q and K to INT8 per block of kQuantBlock
// tokens; one launch of thread-block clusters on Hopper (sage_quant_cluster_kernel.cuh, up to
// 4096 keys), else the portable kernels (sage_quant_kernel.cuh). Q and K are [B, heads, N, d] in
// bf16 or fp16 with unit stride along d and 16-byte aligned pointers and strides (multiples of 8
// elements).
struct SageQuantParams {
  const void* q = nullptr;  // [B, heads, n_q, d]
  const void* k = nullptr;  // [B, heads, n_k, d]
  std::int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  std::int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  int batch = 0, heads = 0, n_q = 0, n_k = 0, d = 0;
  float softmax_scale = 1.0f;  // usually 1/sqrt(d); Q is quantised times softmax_scale * log2(e)
  // Written, all contiguous (dp = padded_head_dim(d), nqb = ceil(n_q / 64), nkb = ceil(n_k / 64)):
  float* k_mean = nullptr;    // [B, heads, d]: K's mean over its n_k tokens, float32
  std::int8_t* q8 = nullptr;  // [B, heads, n_q, dp]: round(q softmax_scale log2(e) / q_scale)
  std::int8_t* k8 = nullptr;  // [B, heads, n_k, dp]: round((k - k_mean) / k_scale)
  float* q_scales = nullptr;  // [B, heads, nqb]: max |q softmax_scale log2(e)| / 127 per block
  float* k_scales = nullptr;  // [B, heads, nkb]: max |k - k_mean| / 127 per block
};

// The attention forward over the quantised Q and K (sage_fwd_kernel.cuh).
struct SageFwdParams {
  const std::int8_t* q8 = nullptr;  // as written by the quantisation pass
  const std::int8_t* k8 = nullptr;
  const float* q_scales = nullptr;
  const float* k_scales = nullptr;
  const void* v = nullptr;  // [B, heads, n_k, d], bf16 or fp16, alignment as for Q and K
  void* o = nullptr;        // [B, heads, n_q, d], written
  float* lse = nullptr;     // [B, heads, n_q] contiguous, written: natural log-sum-exp of the
                            // smoothed scores softmax_scale q . (k - k_mean)
  std::int64_t v_batch_stride = 0, v_head_stride = 0, v_row_stride = 0;
  std::int64_t o_batch_stride = 0, o_head_stride = 0, o_row_stride = 0;
  int batch = 0, heads = 0, n_q = 0, n_k = 0, d = 0;
};

// The K that sage's log-sum-exp is of, for the backward: k - k_mean rounded to k's 16-bit type,
// one pass (sage_quant_kernel.cuh). k as for the quantisation pass; k_smooth contiguous.
struct SageSmoothParams {
  const void* k = nullptr;  // [B, heads, n_k, d]
  std::int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  const float* k_mean = nullptr;  // [B, heads, d], as written by the quantisation pass
  void* k_smooth = nullptr;       // [B, heads, n_k, d] contiguous, written
  int batch = 0, heads = 0, n_k = 0, d = 0;
};

// Launch on `stream` (a cudaStream_t passed as void*). Empty on success, else the CUDA error text.
// The device check is the flash kernels' (kernels::flash::device_support): same library, same
// sm_80 floor (mma.sync with s8 operands and bf16 operands both need it).
std::string run_quant(const SageQuantParams& params, Dtype dtype, void* stream);
std::string run_fwd(const SageFwdParams& params, Dtype dtype, void* stream);
std::string run_smooth_k(const SageSmoothParams& params, Dtype dtype, void* stream);

}  // namespace latentcast::kernels::sage
