// Gradient checkpointing as a torch::autograd::Function: forward without saved activations,
// backward by recomputation under the RNG (and CUDA autocast) state the forward saw.
#include "model/nn/checkpoint.h"

#include <torch/csrc/autograd/custom_function.h>

#include <mutex>
#include <utility>

#include "model/torch_compat.h"

namespace latentcast::nn {
namespace {

// Owns a copy of the wrapped function for the lifetime of the autograd node, so the caller's
// std::function may go out of scope before backward. Whatever the function captures by reference
// (the UNet captures its blocks) must still outlive the backward.
struct FnHolder : torch::CustomClassHolder {
  explicit FnHolder(CheckpointFn f) : fn(std::move(f)) {}
  CheckpointFn fn;
};

// The states of the default generators that a function can draw from: the CPU one always, and
// one per CUDA device among the inputs (dropout on the GPU draws there).
struct RngStates {
  std::vector<torch::Device> devices;
  std::vector<torch::Tensor> states;

  static RngStates capture(const std::vector<torch::Device>& devices) {
    RngStates s;
    s.devices = devices;
    for (const auto& d : devices) {
      at::Generator gen = at::globalContext().defaultGenerator(d);
      std::lock_guard<std::mutex> lock(gen.mutex());
      s.states.push_back(gen.get_state());
    }
    return s;
  }

  void restore() const {
    for (std::size_t i = 0; i < devices.size(); ++i) {
      at::Generator gen = at::globalContext().defaultGenerator(devices[i]);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(states[i]);
    }
  }
};

// Puts the generators back as they were when it was made, also when the recomputation throws.
class RngRestorer {
 public:
  explicit RngRestorer(RngStates states) : states_(std::move(states)) {}
  ~RngRestorer() { states_.restore(); }
  RngRestorer(const RngRestorer&) = delete;
  RngRestorer& operator=(const RngRestorer&) = delete;

 private:
  RngStates states_;
};

std::vector<torch::Device> rng_devices(torch::TensorList inputs) {
  std::vector<torch::Device> devices{torch::kCPU};
  for (const auto& x : inputs) {
    if (!x.is_cuda()) continue;
    bool seen = false;
    for (const auto& d : devices) seen = seen || d == x.device();
    if (!seen) devices.push_back(x.device());
  }
  return devices;
}

bool cuda_autocast_enabled() {
#if LATENTCAST_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

at::ScalarType cuda_autocast_dtype() {
#if LATENTCAST_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

// Ref: Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"; the reentrant variant of
// torch.utils.checkpoint (PyTorch), including its RNG-state handling.
struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               c10::intrusive_ptr<FnHolder> holder, torch::TensorList inputs) {
    const auto devices = rng_devices(inputs);
    const RngStates rng = RngStates::capture(devices);
    ctx->saved_data["fn"] = c10::IValue::make_capsule(holder);
    ctx->saved_data["rng_states"] = rng.states;
    std::vector<std::int64_t> device_codes;
    for (const auto& d : devices) device_codes.push_back(d.is_cuda() ? d.index() : -1);
    ctx->saved_data["rng_devices"] = device_codes;
    ctx->saved_data["autocast"] = cuda_autocast_enabled();
    ctx->saved_data["autocast_dtype"] = cuda_autocast_dtype();
    ctx->save_for_backward(inputs.vec());

    const torch::NoGradGuard no_grad;
    return holder->fn(inputs.vec());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto holder =
        c10::static_intrusive_pointer_cast<FnHolder>(ctx->saved_data["fn"].toCapsule());
    const std::vector<torch::Tensor> saved = ctx->get_saved_variables();

    RngStates forward_rng;
    for (const auto code : ctx->saved_data["rng_devices"].toIntVector())
      forward_rng.devices.push_back(code < 0 ? torch::Device(torch::kCPU)
                                             : torch::Device(torch::kCUDA, code));
    forward_rng.states = ctx->saved_data["rng_states"].toTensorVector();

    std::vector<torch::Tensor> inputs;
    inputs.reserve(saved.size());
    for (const auto& x : saved) inputs.push_back(x.detach().requires_grad_(x.requires_grad()));

    torch::Tensor output;
    {
      // The later draws of the caller must not depend on whether this block was checkpointed, so
      // the generators go back to their current state once the recomputation has drawn its masks.
      const RngRestorer keep_stream(RngStates::capture(forward_rng.devices));
      forward_rng.restore();
      const compat::CudaAutocast autocast(ctx->saved_data["autocast"].toBool(),
                                          ctx->saved_data["autocast_dtype"].toScalarType());
      const torch::AutoGradMode grad(true);
      output = holder->fn(inputs);
    }
    // Reentrant: a nested backward through the recomputed graph accumulates into the parameters'
    // .grad (as a plain backward would) and into the detached inputs, whose grads we hand on.
    if (output.requires_grad()) torch::autograd::backward({output}, {grad_outputs[0]});

    torch::autograd::variable_list grads{torch::Tensor()};  // the holder is not differentiable
    for (const auto& x : inputs) grads.push_back(x.requires_grad() ? x.grad() : torch::Tensor());
    return grads;
  }
};

}  // namespace

torch::Tensor checkpoint(const CheckpointFn& fn, const std::vector<torch::Tensor>& inputs) {
  bool any_requires_grad = false;
  for (const auto& x : inputs) {
    TORCH_CHECK(x.defined(), "checkpoint: inputs must be defined tensors");
    any_requires_grad = any_requires_grad || x.requires_grad();
  }
  // Without an input that requires grad the autograd node would not be recorded, and parameters
  // inside fn would get no gradient: run it plainly (activations kept) instead.
  if (!torch::GradMode::is_enabled() || !any_requires_grad) return fn(inputs);
  return CheckpointFunction::apply(c10::make_intrusive<FnHolder>(fn), torch::TensorList(inputs));
}

}  // namespace latentcast::nn
