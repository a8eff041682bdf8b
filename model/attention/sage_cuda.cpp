// The CUDA `sage` backend: our INT8 kernels (model/kernels/sage) as an autograd function on the
// current CUDA stream. Forward: the quantisation pass, then the INT8 attention kernel; backward:
// the flash FlashAttention-2 backward in 16 bits on the smoothed K with sage's output and
// log-sum-exp (straight-through over the quantisation; sage_fwd_kernel.cuh has the reasoning).
// 16-bit inputs compute in their type; float32 and float64 inputs are cast to bf16 and the results
// cast back, as for flash.
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
#include "model/kernels/sage/sage.h"

namespace latentcast {
namespace {

namespace sk = kernels::sage;
using namespace cuda_attention;

sk::Dtype kernel_dtype(c10::ScalarType t) {
  return t == torch::kFloat16 ? sk::Dtype::Float16 : sk::Dtype::BFloat16;
}

void check_inputs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor* v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && (!v || v->dim() == 4),
              "sage attention expects q, k, v of shape [B, heads, N, d]");
  TORCH_CHECK(!v || k.sizes() == v->sizes(), "sage attention: k and v differ in shape");
  TORCH_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
              "sage attention: q and k differ in batch, heads or head dim");
  TORCH_CHECK(q.is_cuda() && k.device() == q.device() && (!v || v->device() == q.device()),
              "sage attention (CUDA): q, k and v must be on one CUDA device");
  TORCH_CHECK(q.is_floating_point(), "sage attention: q, k, v must be floating point");
  TORCH_CHECK(sk::padded_head_dim(static_cast<int>(q.size(3))) != 0,
              "sage attention (CUDA): head dims are multiples of 8 up to 128, got ", q.size(3));
  TORCH_CHECK(k.size(2) > 0, "sage attention: no keys");
  TORCH_CHECK(v || q.size(0) * q.size(1) <= cuda_attention::kMaxGridHeads,
              "sage attention (CUDA): quantisation takes batch x heads up to ",
              cuda_attention::kMaxGridHeads, ", got ", q.size(0) * q.size(1));
  TORCH_CHECK(q.size(2) < (std::int64_t(1) << 30) && k.size(2) < (std::int64_t(1) << 30),
              "sage attention (CUDA): sequences of at most 2^30 tokens");
}

// The quantisation pass over prepared (16-bit, kernel-ready) q and k, launched before any view of
// its outputs is made (each LibTorch view is host time while the GPU waits for its first kernel).
// One allocation holds what lives only through the forward: the INT8 copies, then the scales
// (offsets multiples of 32 bytes). K's mean has its own, as the backward keeps it.
struct QuantLaunch {
  torch::Tensor workspace, k_mean;
  std::int64_t B = 0, H = 0, Nq = 0, Nk = 0, d = 0, dp = 0, q8_bytes = 0, k8_bytes = 0;
  std::int64_t q_blocks = 0, k_blocks = 0;
  std::int8_t* q8() const { return static_cast<std::int8_t*>(workspace.data_ptr()); }
  std::int8_t* k8() const { return q8() + q8_bytes; }
  float* q_scales() const { return reinterpret_cast<float*>(k8() + k8_bytes); }
  float* k_scales() const { return q_scales() + B * H * q_blocks; }
};

QuantLaunch quantize(const torch::Tensor& q, const torch::Tensor& k) {
  QuantLaunch out;
  out.B = q.size(0), out.H = q.size(1), out.Nq = q.size(2), out.Nk = k.size(2), out.d = q.size(3);
  out.dp = sk::padded_head_dim(static_cast<int>(out.d));
  const auto blocks = [](std::int64_t n) { return (n + sk::kQuantBlock - 1) / sk::kQuantBlock; };
  out.q_blocks = blocks(out.Nq), out.k_blocks = blocks(out.Nk);
  out.q8_bytes = out.B * out.H * out.Nq * out.dp, out.k8_bytes = out.B * out.H * out.Nk * out.dp;
  const std::int64_t scale_count = out.B * out.H * (out.q_blocks + out.k_blocks);
  out.workspace = torch::empty({out.q8_bytes + out.k8_bytes + scale_count * 4},
                               q.options().dtype(torch::kUInt8));
  out.k_mean = torch::empty({out.B, out.H, out.d}, q.options().dtype(torch::kFloat32));

  sk::SageQuantParams p;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.q_batch_stride = q.stride(0), p.q_head_stride = q.stride(1), p.q_row_stride = q.stride(2);
  p.k_batch_stride = k.stride(0), p.k_head_stride = k.stride(1), p.k_row_stride = k.stride(2);
  p.batch = static_cast<int>(out.B), p.heads = static_cast<int>(out.H);
  p.n_q = static_cast<int>(out.Nq), p.n_k = static_cast<int>(out.Nk), p.d = static_cast<int>(out.d);
  p.softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(out.d)));
  p.k_mean = out.k_mean.data_ptr<float>();
  p.q8 = out.q8();
  p.k8 = out.k8();
  p.q_scales = out.q_scales();
  p.k_scales = out.k_scales();
  check_launch(
      sk::run_quant(p, kernel_dtype(q.scalar_type()), c10::cuda::getCurrentCUDAStream().stream()),
      "sage attention quantisation");
  return out;
}

// The quantisation's outputs as tensors (views of the launch's workspace).
SageQuantized views(const QuantLaunch& l) {
  const auto bytes = [&](std::int64_t offset, std::int64_t n) {
    return l.workspace.slice(0, offset, offset + n);
  };
  const std::int64_t scales_at = l.q8_bytes + l.k8_bytes;
  const std::int64_t q_count = l.B * l.H * l.q_blocks, k_count = l.B * l.H * l.k_blocks;
  SageQuantized out;
  out.q8 = bytes(0, l.q8_bytes).view(torch::kInt8).view({l.B, l.H, l.Nq, l.dp});  // past d: 0
  out.k8 = bytes(l.q8_bytes, l.k8_bytes).view(torch::kInt8).view({l.B, l.H, l.Nk, l.dp});
  const torch::Tensor scales = bytes(scales_at, (q_count + k_count) * 4).view(torch::kFloat32);
  out.q_scales = scales.slice(0, 0, q_count).view({l.B, l.H, l.q_blocks});
  out.k_scales = scales.slice(0, q_count, q_count + k_count).view({l.B, l.H, l.k_blocks});
  out.k_mean = l.k_mean;
  return out;
}

class SageCudaFunction : public torch::autograd::Function<SageCudaFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in) {
    const c10::cuda::CUDAGuard guard(q_in.device());
    const auto out_type = q_in.scalar_type();
    const auto type = compute_type(out_type);
    const torch::Tensor q = prepare(q_in, type), k = prepare(k_in, type), v = prepare(v_in, type);
    const std::int64_t B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), d = q.size(3);
    torch::Tensor o, lse, k_mean;  // [B, heads, Nq, d]; [B, heads, Nq] float32; [B, heads, d]
    {
      // The INT8 copies live only through the forward: the backward works on q, k in 16 bits.
      // The quantisation launches first, so that its kernels run while the rest is set up.
      const QuantLaunch qk = quantize(q, k);
      k_mean = qk.k_mean;
      o = torch::empty({B, H, Nq, d}, q.options());
      lse = torch::empty({B, H, Nq}, q.options().dtype(torch::kFloat32));
      sk::SageFwdParams p;
      p.q8 = qk.q8();
      p.k8 = qk.k8();
      p.q_scales = qk.q_scales();
      p.k_scales = qk.k_scales();
      p.v = v.data_ptr();
      p.o = o.data_ptr();
      p.lse = lse.data_ptr<float>();
      p.v_batch_stride = v.stride(0), p.v_head_stride = v.stride(1), p.v_row_stride = v.stride(2);
      p.o_batch_stride = o.stride(0), p.o_head_stride = o.stride(1), p.o_row_stride = o.stride(2);
      p.batch = static_cast<int>(B), p.heads = static_cast<int>(H);
      p.n_q = static_cast<int>(Nq), p.n_k = static_cast<int>(Nk), p.d = static_cast<int>(d);
      check_launch(sk::run_fwd(p, kernel_dtype(type), c10::cuda::getCurrentCUDAStream().stream()),
                   "sage attention forward");
    }
    ctx->save_for_backward({q, k, v, o, lse, k_mean});
    ctx->saved_data["out_type"] = static_cast<std::int64_t>(out_type);
    return out_type == type ? o : o.to(out_type);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    const auto s = ctx->get_saved_variables();
    const torch::Tensor &q = s[0], &k = s[1], &v = s[2], &o = s[3], &lse = s[4], &k_mean = s[5];
    const c10::cuda::CUDAGuard guard(q.device());
    const auto out_type = static_cast<c10::ScalarType>(ctx->saved_data["out_type"].toInt());
    // The smoothed K the forward's scores (and so its LSE) were of; dK is the same for K and
    // K - mean (sage_fwd_kernel.cuh, "Backward").
    const torch::Tensor k_smooth = torch::empty(k.sizes(), k.options());
    sk::SageSmoothParams sp;
    sp.k = k.data_ptr();
    sp.k_batch_stride = k.stride(0), sp.k_head_stride = k.stride(1), sp.k_row_stride = k.stride(2);
    sp.k_mean = k_mean.data_ptr<float>();
    sp.k_smooth = k_smooth.data_ptr();
    sp.batch = static_cast<int>(k.size(0)), sp.heads = static_cast<int>(k.size(1));
    sp.n_k = static_cast<int>(k.size(2)), sp.d = static_cast<int>(k.size(3));
    check_launch(sk::run_smooth_k(sp, kernel_dtype(q.scalar_type()),
                                  c10::cuda::getCurrentCUDAStream().stream()),
                 "sage attention backward (smoothed K)");
    const Grads g = flash_backward(q, k_smooth, v, o, lse, grads[0], "sage attention backward");
    return {g.dq.to(out_type), g.dk.to(out_type), g.dv.to(out_type)};
  }
};

}  // namespace

SageQuantized sage_quantize_cuda(const torch::Tensor& q, const torch::Tensor& k) {
  check_inputs(q, k, nullptr);
  const c10::cuda::CUDAGuard guard(q.device());
  const auto type = compute_type(q.scalar_type());
  return views(quantize(prepare(q, type), prepare(k, type)));
}

torch::Tensor sage_attention_cuda(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v) {
  check_inputs(q, k, &v);
  return in_batch_slices(
      q, k, v, cuda_attention::kMaxGridHeads, "sage attention (CUDA)",
      [](const torch::Tensor& qs, const torch::Tensor& ks, const torch::Tensor& vs) {
        return SageCudaFunction::apply(qs, ks, vs);
      });
}

}  // namespace latentcast
