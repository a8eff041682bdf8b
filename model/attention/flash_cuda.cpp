// The CUDA `flash` backend: our kernels (model/kernels/flash) as an autograd function on the
// current CUDA stream. 16-bit inputs compute in their own type; float32 and float64 inputs are cast
// to bf16, computed, and the results cast back (attention.h says why). Built only with CUDA.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "model/attention/attention.h"
#include "model/attention/cuda_common.h"
#include "model/kernels/flash/flash.h"

namespace latentcast {
namespace {

namespace fk = kernels::flash;
using namespace cuda_attention;

fk::Dtype kernel_dtype(c10::ScalarType t) {
  return t == torch::kFloat16 ? fk::Dtype::Float16 : fk::Dtype::BFloat16;
}

class FlashCudaFunction : public torch::autograd::Function<FlashCudaFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in) {
    const c10::cuda::CUDAGuard guard(q_in.device());
    const auto out_type = q_in.scalar_type();
    const auto type = compute_type(out_type);
    const torch::Tensor q = prepare(q_in, type), k = prepare(k_in, type), v = prepare(v_in, type);
    const std::int64_t B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), d = q.size(3);
    torch::Tensor o = torch::empty({B, H, Nq, d}, q.options());  // [B, heads, Nq, d]
    torch::Tensor lse = torch::empty({B, H, Nq}, q.options().dtype(torch::kFloat32));

    fk::FlashFwdParams p;
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    p.o = o.data_ptr();
    p.lse = lse.data_ptr<float>();
    p.q_batch_stride = q.stride(0), p.q_head_stride = q.stride(1), p.q_row_stride = q.stride(2);
    p.k_batch_stride = k.stride(0), p.k_head_stride = k.stride(1), p.k_row_stride = k.stride(2);
    p.v_batch_stride = v.stride(0), p.v_head_stride = v.stride(1), p.v_row_stride = v.stride(2);
    p.o_batch_stride = o.stride(0), p.o_head_stride = o.stride(1), p.o_row_stride = o.stride(2);
    p.batch = static_cast<int>(B), p.heads = static_cast<int>(H);
    p.n_q = static_cast<int>(Nq), p.n_k = static_cast<int>(Nk), p.d = static_cast<int>(d);
    p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    check_launch(fk::run_fwd(p, kernel_dtype(type), c10::cuda::getCurrentCUDAStream().stream()),
                 "flash attention forward");

    ctx->save_for_backward({q, k, v, o, lse});
    ctx->saved_data["out_type"] = static_cast<std::int64_t>(out_type);
    return out_type == type ? o : o.to(out_type);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    const auto s = ctx->get_saved_variables();
    const torch::Tensor &q = s[0], &k = s[1], &v = s[2], &o = s[3], &lse = s[4];
    const c10::cuda::CUDAGuard guard(q.device());
    const auto out_type = static_cast<c10::ScalarType>(ctx->saved_data["out_type"].toInt());
    const Grads g = flash_backward(q, k, v, o, lse, grads[0], "flash attention backward");
    return {g.dq.to(out_type), g.dk.to(out_type), g.dv.to(out_type)};
  }
};

}  // namespace

namespace cuda_attention {

Grads flash_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& o, const torch::Tensor& lse, const torch::Tensor& dout_in,
                     const char* what) {
  const auto type = q.scalar_type();
  const torch::Tensor dout = prepare(dout_in, type);
  const std::int64_t B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), d = q.size(3);
  const auto f32 = q.options().dtype(torch::kFloat32);
  torch::Tensor dq_accum = torch::empty({B, H, Nq, d}, f32);  // zeroed by the kernels
  torch::Tensor delta = torch::empty({B, H, Nq}, f32);
  torch::Tensor dq = torch::empty({B, H, Nq, d}, q.options());
  torch::Tensor dk = torch::empty({B, H, Nk, d}, q.options());
  torch::Tensor dv = torch::empty({B, H, Nk, d}, q.options());

  fk::FlashBwdParams p;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.o = o.data_ptr();
  p.dout = dout.data_ptr();
  p.lse = lse.data_ptr<float>();
  p.delta = delta.data_ptr<float>();
  p.dq_accum = dq_accum.data_ptr<float>();
  p.dq = dq.data_ptr();
  p.dk = dk.data_ptr();
  p.dv = dv.data_ptr();
  p.q_batch_stride = q.stride(0), p.q_head_stride = q.stride(1), p.q_row_stride = q.stride(2);
  p.k_batch_stride = k.stride(0), p.k_head_stride = k.stride(1), p.k_row_stride = k.stride(2);
  p.v_batch_stride = v.stride(0), p.v_head_stride = v.stride(1), p.v_row_stride = v.stride(2);
  p.o_batch_stride = o.stride(0), p.o_head_stride = o.stride(1), p.o_row_stride = o.stride(2);
  p.do_batch_stride = dout.stride(0), p.do_head_stride = dout.stride(1);
  p.do_row_stride = dout.stride(2);
  p.batch = static_cast<int>(B), p.heads = static_cast<int>(H);
  p.n_q = static_cast<int>(Nq), p.n_k = static_cast<int>(Nk), p.d = static_cast<int>(d);
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  check_launch(fk::run_bwd(p, kernel_dtype(type), c10::cuda::getCurrentCUDAStream().stream()),
               what);
  return {dq, dk, dv};
}

}  // namespace cuda_attention

torch::Tensor flash_attention_cuda(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
              "flash attention expects q, k, v of shape [B, heads, N, d]");
  TORCH_CHECK(k.sizes() == v.sizes(), "flash attention: k and v differ in shape");
  TORCH_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
              "flash attention: q and k differ in batch, heads or head dim");
  TORCH_CHECK(q.is_cuda() && k.device() == q.device() && v.device() == q.device(),
              "flash attention (CUDA): q, k and v must be on one CUDA device");
  TORCH_CHECK(q.is_floating_point(), "flash attention: q, k, v must be floating point");
  TORCH_CHECK(fk::head_dim_supported(static_cast<int>(q.size(3))),
              "flash attention (CUDA): head dims are multiples of 8 up to 128, got ", q.size(3));
  TORCH_CHECK(k.size(2) > 0, "flash attention: no keys");
  TORCH_CHECK(q.size(2) < (std::int64_t(1) << 30) && k.size(2) < (std::int64_t(1) << 30),
              "flash attention (CUDA): sequences of at most 2^30 tokens");
  return in_batch_slices(
      q, k, v, cuda_attention::kMaxGridHeads, "flash attention (CUDA)",
      [](const torch::Tensor& qs, const torch::Tensor& ks, const torch::Tensor& vs) {
        return FlashCudaFunction::apply(qs, ks, vs);
      });
}

}  // namespace latentcast
