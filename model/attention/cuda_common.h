// What the CUDA attention backends (flash_cuda.cpp, sage_cuda.cpp) share: the 16-bit compute type,
// the input preparation the kernels need, and the FlashAttention-2 backward that both use. Internal
// to model/ (LibTorch); built with CUDA only.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "model/attention/batch_slices.h"
#include "model/kernels/flash/flash.h"

namespace latentcast::cuda_attention {

// bf16 for every input but fp16: the kernels compute in 16 bits (attention.h says why).
inline c10::ScalarType compute_type(c10::ScalarType t) {
  return t == torch::kFloat16 ? torch::kFloat16 : torch::kBFloat16;
}

// The kernels read 16 bytes at a time: unit stride along d, and a 16-byte aligned pointer and
// batch, head and row strides (dims of size 1 never step, so their stride does not matter).
inline bool kernel_ready(const torch::Tensor& x) {
  if (x.stride(3) != 1 || reinterpret_cast<std::uintptr_t>(x.data_ptr()) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (x.size(i) > 1 && x.stride(i) % 8 != 0) return false;
  return true;
}

// x in `type`, copied to a contiguous tensor only where the kernels cannot read it as it is.
inline torch::Tensor prepare(const torch::Tensor& x, c10::ScalarType type) {
  const torch::Tensor y = x.scalar_type() == type ? x : x.to(type);
  return kernel_ready(y) ? y : y.clone(at::MemoryFormat::Contiguous);
}

// The most batch x heads one kernel launch takes.
constexpr std::int64_t kMaxGridHeads = kernels::flash::kMaxBatchHeads;

// A kernel entry point's result: its error text (empty on success), then LibTorch's check of the
// launch. `what` names the backend and the pass in the message.
inline void check_launch(const std::string& error, const char* what) {
  TORCH_CHECK(error.empty(), what, ": ", error);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct Grads {
  torch::Tensor dq, dk, dv;  // in q's (16-bit) type, contiguous
};

// The FlashAttention-2 backward of our flash kernels (model/kernels/flash) for the attention whose
// output `o` and natural log-sum-exp `lse` [B, heads, Nq] (float32) were saved; q, k, v, o in one
// 16-bit type, prepared; `dout` is prepared here. `what` names the backend in error messages.
Grads flash_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& o, const torch::Tensor& lse, const torch::Tensor& dout,
                     const char* what);

}  // namespace latentcast::cuda_attention
