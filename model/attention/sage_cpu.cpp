// The CPU `sage` backend, a reference of the INT8 scheme of SageAttention (Zhang et al. 2024):
//   1. K is smoothed: its mean over tokens, per (batch, head, channel), is subtracted. Every score
//   of a
//      query row moves by the same q . mean, which softmax ignores, and the outliers K shares
//      across tokens no longer dominate the quantisation range.
//   2. Q, pre-scaled by the softmax scale 1/sqrt(d), and the smoothed K are quantised to INT8 per
//   block
//      of kBlock tokens, with one float32 scale per block: scale = max|x| / 127, values = round(x /
//      scale).
//   3. Q . K^T is an INT8 x INT8 -> INT32 dot product, dequantised with the two block scales;
//   softmax
//      and P . V run in floating point (float32, or float64 for float64 inputs) in the tiled
//      kernel.
// Backward (our design): straight-through over the quantisation. P is recomputed from the INT8
// scores and the saved log-sum-exp, so it is exactly the P of the forward; dV = P^T dO, dS = P *
// (dO V^T - D), dQ = dS K / sqrt(d) and dK = dS^T Q / sqrt(d) with the unquantised Q and K. The
// smoothing needs no term of its own: each row of dS sums to zero, so dS (K - mean) = dS K.
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "model/attention/attention.h"
#include "model/attention/tiled_cpu.h"
#include "model/attention/tiled_cpu_common.h"

namespace latentcast {
namespace {

constexpr std::int64_t kBlock = 64;

// Scores from INT8 blocks: S_ij = (q8_i . k8_j) * sq(block of i) * sk(block of j).
template <typename T>
struct Int8Scores {
  const std::int8_t* q8;
  const std::int8_t* k8;
  const float* q_scale;  // [BH, q_blocks]
  const float* k_scale;  // [BH, k_blocks]
  tiled::Shape shape;
  std::int64_t q_blocks, k_blocks;

  void operator()(std::int64_t bh, std::int64_t i0, std::int64_t ni, std::int64_t j0,
                  std::int64_t nj, T* s) const {
    const std::int64_t d = shape.d;
    for (std::int64_t i = 0; i < ni; ++i) {
      const std::int8_t* qi = q8 + (bh * shape.n + i0 + i) * d;
      const float sq = q_scale[bh * q_blocks + (i0 + i) / kBlock];
      for (std::int64_t j = 0; j < nj; ++j) {
        const std::int8_t* kj = k8 + (bh * shape.m + j0 + j) * d;
        std::int32_t dot = 0;
        for (std::int64_t c = 0; c < d; ++c) dot += std::int32_t(qi[c]) * std::int32_t(kj[c]);
        s[i * tiled::kKeyTile + j] = T(dot) * T(sq * k_scale[bh * k_blocks + (j0 + j) / kBlock]);
      }
    }
  }
};

// The INT8 score policy over the quantised blocks, for any scalar type.
auto scores_of(const torch::Tensor& q8, const torch::Tensor& k8, const torch::Tensor& sq,
               const torch::Tensor& sk, const tiled::Shape& sh) {
  return [q8, k8, sq, sk, sh](auto tag) {
    using T = typename decltype(tag)::type;
    return Int8Scores<T>{q8.data_ptr<std::int8_t>(),
                         k8.data_ptr<std::int8_t>(),
                         sq.data_ptr<float>(),
                         sk.data_ptr<float>(),
                         sh,
                         sq.size(-1),
                         sk.size(-1)};
  };
}

class SageCpuFunction : public torch::autograd::Function<SageCpuFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in) {
    const auto type = tiled::compute_type(q_in);
    const torch::Tensor q = tiled::flat(q_in, type), k = tiled::flat(k_in, type),
                        v = tiled::flat(v_in, type);
    const tiled::Shape sh = tiled::shape_of(q_in, k_in);
    const double scale = 1.0 / std::sqrt(double(sh.d));
    const torch::Tensor q_float = q.to(torch::kFloat32).unsqueeze(0) * scale;  // [1, BH, N, d]
    const torch::Tensor k_float = k.to(torch::kFloat32).unsqueeze(0);
    const Int8Blocks q8 = quantize_int8_blocks(q_float, kBlock);
    const Int8Blocks k8 = quantize_int8_blocks(k_float - k_float.mean(2, /*keepdim=*/true), kBlock);
    const torch::Tensor qv = q8.values.squeeze(0), kv = k8.values.squeeze(0);
    const torch::Tensor qs = q8.scales.squeeze(0).contiguous(),
                        ks = k8.scales.squeeze(0).contiguous();

    auto [out, lse] = tiled::run_forward(q_in, v, sh, scores_of(qv, kv, qs, ks, sh));
    ctx->save_for_backward({q, k, v, out, lse, qv, kv, qs, ks});
    ctx->saved_data["dtype"] = static_cast<int64_t>(q_in.scalar_type());
    return out.to(q_in.scalar_type());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const tiled::Shape sh{s[0].size(0), s[0].size(1), s[1].size(1), s[0].size(2)};
    return tiled::run_backward(s[0], s[1], s[2], s[3], s[4], grads[0],
                               static_cast<c10::ScalarType>(ctx->saved_data["dtype"].toInt()),
                               scores_of(s[5], s[6], s[7], s[8], sh));
  }
};

}  // namespace

Int8Blocks quantize_int8_blocks(const torch::Tensor& x, std::int64_t block) {
  TORCH_CHECK(x.dim() == 4 && block >= 1,
              "quantize_int8_blocks expects [B, heads, N, d] and block >= 1");
  const std::int64_t b = x.size(0), h = x.size(1), n = x.size(2), d = x.size(3);
  const std::int64_t blocks = (n + block - 1) / block;
  const torch::Tensor xf = x.to(torch::kFloat32);
  // Zero rows pad the last block; they do not change its maximum.
  const torch::Tensor padded =
      torch::constant_pad_nd(xf, {0, 0, 0, blocks * block - n}).view({b, h, blocks, block * d});
  torch::Tensor scales = padded.abs().amax(-1) / 127.0;  // [B, heads, blocks]
  scales = torch::where(scales > 0, scales, torch::ones_like(scales));
  const torch::Tensor values = torch::round(padded / scales.unsqueeze(-1))
                                   .clamp(-127, 127)
                                   .view({b, h, blocks * block, d})
                                   .slice(2, 0, n)
                                   .to(torch::kInt8)
                                   .contiguous();
  return {values, scales.contiguous()};
}

torch::Tensor sage_attention_cpu(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v) {
  tiled::check_cpu_inputs(q, k, v, "sage");
  return SageCpuFunction::apply(q, k, v);
}

}  // namespace latentcast
