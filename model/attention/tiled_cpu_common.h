// Tensor plumbing shared by the CPU flash and sage autograd functions (internal to model/attention).
#pragma once

#include <torch/torch.h>

#include "model/attention/tiled_cpu.h"

namespace latentcast::tiled {

// float64 computes in float64; float32, bfloat16 and float16 compute in float32.
inline c10::ScalarType compute_type(const torch::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// [B, heads, N, d] -> contiguous [B * heads, N, d] of the compute type.
inline torch::Tensor flat(const torch::Tensor& x, c10::ScalarType type) {
  return x.to(type).contiguous().view({x.size(0) * x.size(1), x.size(2), x.size(3)});
}

inline Shape shape_of(const torch::Tensor& q, const torch::Tensor& k) {
  return {q.size(0) * q.size(1), q.size(2), k.size(2), q.size(3)};
}

inline void check_cpu_inputs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const char* backend) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, backend,
              " attention expects q, k, v of shape [B, heads, N, d]");
  TORCH_CHECK(k.sizes() == v.sizes(), backend, " attention: k and v differ in shape");
  TORCH_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), backend,
              " attention: q and k differ in batch, heads or head dim");
  TORCH_CHECK(!q.is_cuda() && !k.is_cuda() && !v.is_cuda(), backend,
              " attention: this is the CPU kernel, the tensors are on the GPU");
  TORCH_CHECK(k.size(2) > 0, backend, " attention: no keys");
}

}  // namespace latentcast::tiled
