// The autograd side of the memory replay (memory_sim.h): values with a storage, a dtype and a
// requires-grad flag; ops that allocate their output and keep what LibTorch's autograd node for
// them saves; a backward in reverse creation order that allocates gradients, frees saved tensors
// as their node runs, and re-runs checkpointed blocks. Each op documents the LibTorch behaviour it
// mirrors. Internal to the estimator.
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "estimator/memory_sim.h"

namespace latentcast::estimator {

enum class Dtype { F32, BF16, F16, I8, I32, I64, Bool };
int dtype_bytes(Dtype d);

// A tensor of the replayed program. Copies share the storage (like torch::Tensor).
struct V {
  StoragePtr storage;
  std::int64_t numel = 0;
  Dtype dtype = Dtype::F32;
  bool requires_grad = false;
  int id = -1;     // identifies the value for its gradient
  int param = -1;  // index of the parameter it is (or a cast of it), -1 otherwise
  std::int64_t bytes() const { return numel * dtype_bytes(dtype); }
};

// A view of values passed to an op: braces or a vector, without a heap allocation. A braced list
// lives until the end of the call it is an argument of, which is as long as a VList is used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
class VList {
 public:
  VList(std::initializer_list<V> values) : data_(values.begin()), size_(values.size()) {}
  VList(const std::vector<V>& values) : data_(values.data()), size_(values.size()) {}
  const V* begin() const { return data_; }
  const V* end() const { return data_ + size_; }
  std::size_t size() const { return size_; }

 private:
  const V* data_;
  std::size_t size_;
};
#pragma GCC diagnostic pop

// Device behaviour the ops depend on.
struct DeviceRules {
  bool cuda = false;
  // Mixed precision (CUDA autocast): matmul-like ops cast inputs and weights to `half`.
  bool autocast = false;
  Dtype half = Dtype::BF16;
  // Workspaces, measured per op with the counting allocator (CPU, oneDNN): a convolution's forward
  // reorders into blocked layouts (about max(input, output) bytes), its backward reorders input and
  // output gradient (input + output bytes); GroupNorm's backward holds a copy of its input.
  double conv_forward_workspace = 0.0;   // x max(input, output) bytes
  double conv_backward_workspace = 0.0;  // x (input + output) bytes
  double norm_backward_workspace = 0.0;  // x input bytes
  // The CUDA caching allocator maps expandable segments (model/device.h) instead of one
  // cudaMalloc per segment.
  bool expandable_segments = false;
  // An sm_90 GPU, where our Hopper kernels run: the CUDA sage forward lays out head dims up to 64
  // in 64-byte INT8 rows (model/kernels/sage/sage_api.cu, padded_head_dim).
  bool hopper = false;
  static DeviceRules for_cpu() { return {false, false, Dtype::BF16, 1.0, 1.0, 1.0}; }
  // cuDNN, fitted on the H200 grid of docs/benchmarks.md ("estimator"): the backward's workspace
  // from the reserve of the 12-02 run; the forward's (2 x max(input, output)) from the diffusion
  // stage of the 12-03 run, where the no-grad encoding of the latent caches peaked 128 MiB above
  // the prediction at S = 128 (the training steps hide it).
  static DeviceRules for_cuda() { return {true, false, Dtype::BF16, 2.0, 1.0, 0.0}; }
};

class Graph {
 public:
  Graph(Sim& sim, DeviceRules rules) : sim_(sim), rules_(rules) {
    tape_.reserve(2048);
    params_.reserve(1024);
  }

  Sim& sim() { return sim_; }
  const DeviceRules& rules() const { return rules_; }

  // ---- values ----
  // A parameter tensor of `numel` fp32 values (allocated now, as Weights unless said otherwise).
  int add_param(std::int64_t numel, Cat cat = Cat::Weights);
  V param(int index);
  std::int64_t param_numel(int index) const { return params_[index].numel; }
  std::size_t param_count() const { return params_.size(); }
  StoragePtr& param_grad(int index) { return params_[index].grad; }
  void set_trainable(int index, bool trainable) { params_[index].trainable = trainable; }
  // A tensor that does not require grad (data, noise, timesteps).
  V input(std::int64_t numel, Dtype dtype, Cat cat = Cat::Temporary);

  // ---- modes ----
  bool grad_enabled() const { return grad_; }
  void set_grad_enabled(bool on) { grad_ = on; }
  void set_autocast(bool on);  // leaving autocast clears its weight cache, as LibTorch does

  // ---- ops ----
  // A new tensor computed from `inputs` (an elementwise op, a reduction, a resize...). `saved` is
  // what the op's autograd node keeps; `temp` bytes are held only while the op runs.
  V op(VList inputs, std::int64_t numel, Dtype dtype, VList saved, Cat cat = Cat::Activations,
       std::int64_t forward_temp = 0, std::int64_t backward_temp = 0);
  // An op whose backward hands the output gradient to its inputs without a new tensor (add of same
  // shapes, cat, reshape of a contiguous tensor).
  V op_alias_grad(VList inputs, std::int64_t numel, Dtype dtype, Cat cat = Cat::Activations);
  // A view: shares x's storage. `full_grad`: its backward allocates a gradient of the whole base
  // (select, index), else the gradient is a view of the output gradient.
  V view(const V& x, std::int64_t numel, bool full_grad = false);
  // Casts to `dtype` (a copy unless the dtype matches).
  V cast(const V& x, Dtype dtype, Cat cat = Cat::Activations);
  // The first cuBLAS call of a CUDA process allocates its workspace (32 MiB for LibTorch 2.x on
  // Hopper, CUBLAS_WORKSPACE_CONFIG unset) through the caching allocator; it is kept for good.
  void use_blas();
  // Linear layers (addmm with bias) go through cuBLASLt, whose workspace (another 32 MiB) is
  // allocated at its first use: the H200 grid shows both, the second in stage 2.
  void use_blas_lt();
  // Casts for a matmul-like op under autocast (weights through the autocast cache).
  V autocast_in(const V& x);

  // The layers of the model (parameters by index).
  V conv(const V& x, int weight, int bias, std::int64_t out_numel);
  V linear(const V& x, int weight, int bias, std::int64_t out_numel);
  V group_norm(const V& x, int weight, int bias, std::int64_t groups_x_batch);
  V silu(const V& x);
  V dropout(const V& x);
  V add(const V& a, const V& b);  // same shapes, or b broadcast (grad summed down)
  V matmul(const V& a, const V& b, std::int64_t out_numel);
  V softmax(const V& x, Dtype out_dtype);
  V mse_loss(const V& prediction, const V& target);

  // Gradient checkpointing (model/nn/checkpoint.cpp): the block runs without grad, its inputs are
  // saved, and the backward re-runs it with grad before differentiating it.
  using Block = std::function<V(Graph&, const std::vector<V>&)>;
  V checkpoint(const std::vector<V>& inputs, const Block& block);

  // Backward from a scalar loss: gradients of trainable parameters end up in param_grad().
  void backward(const V& loss);
  // Drops the recorded graph (what leaving the scope of the loss does).
  void clear_tape() { tape_.clear(); }

 private:
  struct Node {
    int out = -1;
    // Fixed capacity: no op saves more than 10 tensors or has more than 4 differentiable inputs.
    std::array<StoragePtr, 10> saved;
    int saved_count = 0;
    struct In {
      int id;
      int param;
      std::int64_t grad_bytes;
      bool alias;
    };
    std::array<In, 4> ins;
    int in_count = 0;
    void release() {
      for (int i = 0; i < saved_count; ++i) saved[i].reset();
      saved_count = 0;
    }
    std::int64_t backward_temp = 0;
    std::function<std::vector<StoragePtr>(Graph&, Node&, const StoragePtr&)> custom;  // checkpoint
  };
  struct Param {
    std::int64_t numel;
    StoragePtr storage, grad;
    int id;
    bool trainable = true;
  };
  using Grads = std::unordered_map<int, StoragePtr>;

  V fresh(std::int64_t numel, Dtype dtype, Cat cat);
  // The output of an op, recorded when grad is on and an input requires it.
  V make(VList inputs, std::int64_t numel, Dtype dtype, VList saved, Cat cat, bool alias,
         std::int64_t backward_temp);
  Node& record(VList inputs, V& out, VList saved, bool alias);
  void accumulate(Grads& grads, const Node::In& in, StoragePtr g);
  void run_backward(std::vector<Node>& tape, Grads& grads);

  Sim& sim_;
  DeviceRules rules_;
  bool grad_ = true, autocast_ = false;
  int next_id_ = 0;
  std::vector<Param> params_;
  std::vector<Node> tape_;
  std::map<int, V> autocast_cache_;
  StoragePtr blas_workspace_, blas_lt_workspace_;
};

}  // namespace latentcast::estimator
