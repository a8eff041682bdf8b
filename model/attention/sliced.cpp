// The `sliced` backend: exact attention over slices of the queries. The forward keeps only q, k, v;
// the backward recomputes each slice's probabilities, so the largest score block alive is slice x
// Nk in training as well as in inference (plain autograd over slices would keep every slice's P).
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>

#include "model/attention/attention.h"

namespace latentcast {
namespace {

class SlicedFunction : public torch::autograd::Function<SlicedFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                               const torch::Tensor& k, const torch::Tensor& v, int64_t slice) {
    torch::Tensor out = torch::empty(q.sizes(), v.options());
    for (int64_t s = 0; s < q.size(2); s += slice) {
      const int64_t e = std::min(q.size(2), s + slice);
      out.slice(2, s, e).copy_(math_attention(q.slice(2, s, e), k, v));
    }
    ctx->save_for_backward({q, k, v});
    ctx->saved_data["slice"] = slice;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t slice = ctx->saved_data["slice"].toInt();
    // Softmax and its gradient in at least float32, as in math_attention.
    const auto type = c10::promoteTypes(saved[0].scalar_type(), torch::kFloat32);
    const torch::Tensor q = saved[0].to(type), k = saved[1].to(type), v = saved[2].to(type);
    const torch::Tensor dout = grads[0].to(type);
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    torch::Tensor dq = torch::empty_like(q), dk = torch::zeros_like(k), dv = torch::zeros_like(v);
    const torch::Tensor kt = k.transpose(-2, -1), vt = v.transpose(-2, -1);
    for (int64_t s = 0; s < q.size(2); s += slice) {
      const int64_t e = std::min(q.size(2), s + slice);
      const torch::Tensor qs = q.slice(2, s, e), dos = dout.slice(2, s, e);
      const torch::Tensor p =
          torch::softmax(torch::matmul(qs, kt) * scale, -1);  // [B, heads, slice, Nk]
      dv.add_(torch::matmul(p.transpose(-2, -1), dos));
      const torch::Tensor dp = torch::matmul(dos, vt);
      const torch::Tensor ds = p * (dp - (dp * p).sum(-1, /*keepdim=*/true));
      dq.slice(2, s, e).copy_(torch::matmul(ds, k) * scale);
      dk.add_(torch::matmul(ds.transpose(-2, -1), qs) * scale);
    }
    return {dq.to(saved[0].scalar_type()), dk.to(saved[1].scalar_type()),
            dv.to(saved[2].scalar_type()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sliced_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, std::int64_t slice_size) {
  TORCH_CHECK(slice_size >= 1, "sliced attention: slice size must be >= 1, got ", slice_size);
  return SlicedFunction::apply(q, k, v, slice_size);
}

}  // namespace latentcast
