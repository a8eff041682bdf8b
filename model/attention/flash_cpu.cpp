// The CPU `flash` backend: the tiled kernel of tiled_cpu.h with float scores, as an autograd
// function that saves q, k, v, the output and the log-sum-exp, never the probabilities.
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "model/attention/attention.h"
#include "model/attention/tiled_cpu.h"
#include "model/attention/tiled_cpu_common.h"

namespace latentcast {
namespace {

// The float score policy over flat q and k, for any scalar type.
auto scores_of(const torch::Tensor& q, const torch::Tensor& k, const tiled::Shape& sh) {
  return [q, k, sh](auto tag) {
    using T = typename decltype(tag)::type;
    return tiled::FloatScores<T>{q.data_ptr<T>(), k.data_ptr<T>(), sh,
                                 static_cast<T>(1.0 / std::sqrt(double(sh.d)))};
  };
}

class FlashCpuFunction : public torch::autograd::Function<FlashCpuFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in) {
    const auto type = tiled::compute_type(q_in);
    const torch::Tensor q = tiled::flat(q_in, type), k = tiled::flat(k_in, type),
                        v = tiled::flat(v_in, type);
    const tiled::Shape sh = tiled::shape_of(q_in, k_in);
    auto [out, lse] = tiled::run_forward(q_in, v, sh, scores_of(q, k, sh));
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["dtype"] = static_cast<int64_t>(q_in.scalar_type());
    return out.to(q_in.scalar_type());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const tiled::Shape sh{s[0].size(0), s[0].size(1), s[1].size(1), s[0].size(2)};
    return tiled::run_backward(s[0], s[1], s[2], s[3], s[4], grads[0],
                               static_cast<c10::ScalarType>(ctx->saved_data["dtype"].toInt()),
                               scores_of(s[0], s[1], sh));
  }
};

}  // namespace

torch::Tensor flash_attention_cpu(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v) {
  tiled::check_cpu_inputs(q, k, v, "flash");
  return FlashCpuFunction::apply(q, k, v);
}

}  // namespace latentcast
