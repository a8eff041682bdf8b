// Tensor plumbing shared by the CPU flash and sage autograd functions (internal to
// model/attention).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <utility>
#include <vector>

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

// Names a scalar type for the score-policy factories below: make(Tag<scalar_t>{}) returns the
// policy.
template <typename T>
struct Tag {
  using type = T;
};

// The forward of an autograd function over the tiled kernel: q, k, v flat in the compute type;
// returns the output in the caller's shape (the same memory layout as [BH, N, d], so the tensor
// returned can be the tensor saved) and the log-sum-exp [BH, N].
template <typename MakeScores>
std::pair<torch::Tensor, torch::Tensor> run_forward(const torch::Tensor& q_in,
                                                    const torch::Tensor& v, const Shape& sh,
                                                    MakeScores make) {
  torch::Tensor out = torch::empty(q_in.sizes(), v.options());
  torch::Tensor lse = torch::empty({sh.heads_total, sh.n}, v.options());
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "tiled_cpu_forward", [&] {
    forward<scalar_t>(make(Tag<scalar_t>{}), v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                      lse.data_ptr<scalar_t>(), sh);
  });
  return {out, lse};
}

// The backward: gradients of q, k, v in `dtype` and the caller's shapes, from the flat saved q, k,
// v, the output and lse, and the incoming gradient.
template <typename MakeScores>
std::vector<torch::Tensor> run_backward(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& out_saved,
                                        const torch::Tensor& lse, const torch::Tensor& grad,
                                        c10::ScalarType dtype, MakeScores make) {
  const torch::Tensor out = out_saved.contiguous();
  const auto type = q.scalar_type();
  const torch::Tensor dout = grad.to(type).contiguous().view(q.sizes());
  const Shape sh{q.size(0), q.size(1), k.size(1), q.size(2)};
  torch::Tensor dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
  AT_DISPATCH_FLOATING_TYPES(type, "tiled_cpu_backward", [&] {
    const auto scale = static_cast<scalar_t>(1.0 / std::sqrt(double(sh.d)));
    backward<scalar_t>(make(Tag<scalar_t>{}), q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
                       v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), dout.data_ptr<scalar_t>(),
                       lse.data_ptr<scalar_t>(), dq.data_ptr<scalar_t>(), dk.data_ptr<scalar_t>(),
                       dv.data_ptr<scalar_t>(), sh, scale);
  });
  const auto sizes = grad.sizes();
  const std::vector<int64_t> kv_sizes{sizes[0], sizes[1], sh.m, sh.d};
  return {dq.view(sizes).to(dtype), dk.view(kv_sizes).to(dtype), dv.view(kv_sizes).to(dtype)};
}

}  // namespace latentcast::tiled
