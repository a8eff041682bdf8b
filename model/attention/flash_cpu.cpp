// The CPU `flash` backend: the tiled kernel of tiled_cpu.h with float scores, as an autograd function
// that saves q, k, v, the output and the log-sum-exp, never the probabilities.
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "model/attention/attention.h"
#include "model/attention/tiled_cpu.h"
#include "model/attention/tiled_cpu_common.h"

namespace latentcast {
namespace {

class FlashCpuFunction : public torch::autograd::Function<FlashCpuFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in) {
    const auto type = tiled::compute_type(q_in);
    const torch::Tensor q = tiled::flat(q_in, type), k = tiled::flat(k_in, type), v = tiled::flat(v_in, type);
    const tiled::Shape sh = tiled::shape_of(q_in, k_in);
    // Allocated in the caller's shape (same memory layout as [BH, N, d]), so the tensor returned is the
    // tensor saved, not a view of it.
    torch::Tensor out = torch::empty(q_in.sizes(), q.options());
    torch::Tensor lse = torch::empty({sh.heads_total, sh.n}, q.options());
    AT_DISPATCH_FLOATING_TYPES(type, "flash_cpu_forward", [&] {
      const tiled::FloatScores<scalar_t> scores{q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), sh,
                                                static_cast<scalar_t>(1.0 / std::sqrt(double(sh.d)))};
      tiled::forward<scalar_t>(scores, v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                               lse.data_ptr<scalar_t>(), sh);
    });
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["dtype"] = static_cast<int64_t>(q_in.scalar_type());
    return out.to(q_in.scalar_type());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &lse = saved[4];
    const torch::Tensor out = saved[3].contiguous();
    const auto type = q.scalar_type();
    const torch::Tensor dout = grads[0].to(type).contiguous().view(q.sizes());
    const tiled::Shape sh{q.size(0), q.size(1), k.size(1), q.size(2)};
    torch::Tensor dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    AT_DISPATCH_FLOATING_TYPES(type, "flash_cpu_backward", [&] {
      const auto scale = static_cast<scalar_t>(1.0 / std::sqrt(double(sh.d)));
      const tiled::FloatScores<scalar_t> scores{q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), sh, scale};
      tiled::backward<scalar_t>(scores, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                                out.data_ptr<scalar_t>(), dout.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(),
                                dq.data_ptr<scalar_t>(), dk.data_ptr<scalar_t>(), dv.data_ptr<scalar_t>(), sh,
                                scale);
    });
    const auto dtype = static_cast<c10::ScalarType>(ctx->saved_data["dtype"].toInt());
    const auto& sizes = grads[0].sizes();
    const std::vector<int64_t> kv_sizes{sizes[0], sizes[1], sh.m, sh.d};
    return {dq.view(sizes).to(dtype), dk.view(kv_sizes).to(dtype), dv.view(kv_sizes).to(dtype)};
  }
};

}  // namespace

torch::Tensor flash_attention_cpu(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  tiled::check_cpu_inputs(q, k, v, "flash");
  return FlashCpuFunction::apply(q, k, v);
}

}  // namespace latentcast
