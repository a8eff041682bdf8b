#include "estimator/graph.h"

#include <algorithm>
#include <utility>

namespace latentcast::estimator {

int dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::F32:
    case Dtype::I32:
      return 4;
    case Dtype::BF16:
    case Dtype::F16:
      return 2;
    case Dtype::I8:
    case Dtype::Bool:
      return 1;
    case Dtype::I64:
      return 8;
  }
  return 4;
}

namespace {

Dtype promote(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == Dtype::F32 || b == Dtype::F32) return Dtype::F32;
  return a;
}

}  // namespace

int Graph::add_param(std::int64_t numel, Cat cat) {
  Param p;
  p.numel = numel;
  p.storage = sim_.alloc(numel * 4, cat);
  p.id = next_id_++;
  params_.push_back(std::move(p));
  return static_cast<int>(params_.size()) - 1;
}

V Graph::param(int index) {
  const Param& p = params_[index];
  V v;
  v.storage = p.storage;
  v.numel = p.numel;
  v.dtype = Dtype::F32;
  v.requires_grad = p.trainable;
  v.id = p.id;
  v.param = index;
  return v;
}

V Graph::fresh(std::int64_t numel, Dtype dtype, Cat cat) {
  V v;
  v.numel = numel;
  v.dtype = dtype;
  v.storage = sim_.alloc(v.bytes(), cat);
  v.id = next_id_++;
  return v;
}

V Graph::input(std::int64_t numel, Dtype dtype, Cat cat) {
  return fresh(numel, dtype, cat);
}

void Graph::set_autocast(bool on) {
  autocast_ = on && rules_.autocast;
  if (!autocast_) autocast_cache_.clear();
}

Graph::Node& Graph::record(VList inputs, V& out, VList saved, bool alias) {
  tape_.emplace_back();
  Node& n = tape_.back();
  n.out = out.id;
  for (const V& s : saved)
    if (s.storage) n.saved[n.saved_count++] = s.storage;
  for (const V& in : inputs) {
    if (!in.requires_grad) continue;
    // The gradient can alias the output's only when it has the same size and dtype.
    const bool same = alias && in.numel == out.numel && in.dtype == out.dtype;
    n.ins[n.in_count++] = {in.id, in.param, in.bytes(), same};
  }
  out.requires_grad = true;
  return n;
}

V Graph::make(VList inputs, std::int64_t numel, Dtype dtype, VList saved, Cat cat, bool alias,
              std::int64_t backward_temp) {
  V out = fresh(numel, dtype, cat);
  bool needs = false;
  for (const V& in : inputs) needs = needs || in.requires_grad;
  if (grad_ && needs) record(inputs, out, saved, alias).backward_temp = backward_temp;
  return out;
}

V Graph::op(VList inputs, std::int64_t numel, Dtype dtype, VList saved, Cat cat,
            std::int64_t forward_temp, std::int64_t backward_temp) {
  V out = make(inputs, numel, dtype, saved, cat, false, backward_temp);
  if (forward_temp > 0) sim_.spike(forward_temp, Cat::Temporary);
  return out;
}

V Graph::op_alias_grad(VList inputs, std::int64_t numel, Dtype dtype, Cat cat) {
  return make(inputs, numel, dtype, {}, cat, true, 0);
}

V Graph::view(const V& x, std::int64_t numel, bool full_grad) {
  V out = x;
  out.numel = numel;
  out.id = next_id_++;
  out.param = -1;
  out.requires_grad = false;
  // A view's gradient is a view of the output gradient (no bytes); select/index allocate the
  // base's size, and so does a narrower view (record() aliases only equal sizes).
  if (grad_ && x.requires_grad) record({x}, out, {}, !full_grad);
  return out;
}

V Graph::cast(const V& x, Dtype dtype, Cat cat) {
  if (x.dtype == dtype) return x;
  V out = fresh(x.numel, dtype, cat);
  if (grad_ && x.requires_grad) record({x}, out, {}, false);
  return out;
}

void Graph::use_blas() {
  if (rules_.cuda && !blas_workspace_)
    blas_workspace_ = sim_.alloc(std::int64_t(32) << 20, Cat::Workspace);
}

void Graph::use_blas_lt() {
  use_blas();
  if (rules_.cuda && !blas_lt_workspace_)
    blas_lt_workspace_ = sim_.alloc(std::int64_t(32) << 20, Cat::Workspace);
}

V Graph::autocast_in(const V& x) {
  if (!autocast_ || x.dtype == rules_.half) return x;
  if (x.param < 0) return cast(x, rules_.half);
  // Weights that require grad are cast once per autocast region (LibTorch's autocast cache).
  const auto it = autocast_cache_.find(x.param);
  if (it != autocast_cache_.end()) return it->second;
  V c = cast(x, rules_.half, Cat::Weights);
  if (x.requires_grad) autocast_cache_[x.param] = c;
  return c;
}

V Graph::conv(const V& x, int weight, int bias, std::int64_t out_numel) {
  const V xi = autocast_in(x), w = autocast_in(param(weight)), b = autocast_in(param(bias));
  // Convolution saves its input and weight; the backward allocates grad_input and the parameter
  // gradients, plus the backend's workspace.
  const double in_bytes = double(xi.bytes()), out_bytes = double(out_numel * dtype_bytes(xi.dtype));
  const auto fwd =
      static_cast<std::int64_t>(rules_.conv_forward_workspace * std::max(in_bytes, out_bytes));
  const auto bwd =
      static_cast<std::int64_t>(rules_.conv_backward_workspace * (in_bytes + out_bytes));
  return op({xi, w, b}, out_numel, xi.dtype, {xi, w}, Cat::Activations, fwd, bwd);
}

V Graph::linear(const V& x, int weight, int bias, std::int64_t out_numel) {
  use_blas_lt();
  const V xi = autocast_in(x), w = autocast_in(param(weight)), b = autocast_in(param(bias));
  return op({xi, w, b}, out_numel, xi.dtype, {xi, w});
}

V Graph::group_norm(const V& x, int weight, int bias, std::int64_t groups_x_batch) {
  // group_norm runs in fp32 under autocast; it saves its input and the per-group mean and rstd.
  const V xi = autocast_ ? cast(x, Dtype::F32) : x;
  V stats = fresh(2 * groups_x_batch, xi.dtype, Cat::Activations);
  return op({xi, param(weight), param(bias)}, x.numel, xi.dtype, {xi, stats}, Cat::Activations, 0,
            static_cast<std::int64_t>(rules_.norm_backward_workspace * double(xi.bytes())));
}

V Graph::silu(const V& x) {
  return op({x}, x.numel, x.dtype, {x});
}

V Graph::dropout(const V& x) {
  // CPU: a float noise tensor (bernoulli / (1 - p)) multiplies the input and is saved; CUDA's fused
  // kernel saves a one-byte mask.
  const V keep = fresh(x.numel, rules_.cuda ? Dtype::Bool : x.dtype, Cat::Activations);
  return op({x}, x.numel, x.dtype, {keep});
}

V Graph::add(const V& a, const V& b) {
  const std::int64_t n = std::max(a.numel, b.numel);
  return op_alias_grad({a, b}, n, promote(a.dtype, b.dtype));
}

V Graph::matmul(const V& a, const V& b, std::int64_t out_numel) {
  use_blas();
  // bmm takes the transposed layouts of the attention views without copies.
  const V x = autocast_in(a), y = autocast_in(b);
  // bmm saves each operand for the other's gradient.
  const V none;
  return op({x, y}, out_numel, x.dtype, {y.requires_grad ? x : none, x.requires_grad ? y : none},
            Cat::Attention);
}

V Graph::softmax(const V& x, Dtype out_dtype) {
  const Dtype type = autocast_ ? Dtype::F32 : out_dtype;
  const V xi = cast(x, type, Cat::Attention);
  V out = fresh(x.numel, type, Cat::Attention);
  if (grad_ && xi.requires_grad) record({xi}, out, {out}, false);
  return out;
}

V Graph::mse_loss(const V& prediction, const V& target) {
  // The elementwise loss is materialised, then reduced to its mean; input and target are saved.
  return op({prediction, target}, 1, Dtype::F32, {prediction, target}, Cat::Temporary,
            prediction.bytes());
}

V Graph::checkpoint(const std::vector<V>& inputs, const Block& block) {
  bool any = false;
  for (const V& in : inputs) any = any || in.requires_grad;
  if (!grad_ || !any) return block(*this, inputs);
  V out;
  grad_ = false;
  out = block(*this, inputs);
  grad_ = true;
  Node& n = record(inputs, out, inputs, false);
  const bool autocast = autocast_;
  std::vector<V> shapes = inputs;
  for (V& s : shapes) s.storage.reset();
  n.custom = [block, shapes, autocast](Graph& g, Node& node, const StoragePtr& grad_out) {
    // Recompute with grad from the saved inputs (detached copies: new gradient ids).
    std::vector<V> detached;
    std::size_t next_saved = 0;
    for (const V& s : shapes) {
      V d = s;
      d.storage = node.saved[int(next_saved++)];
      d.id = g.next_id_++;
      d.param = -1;
      detached.push_back(d);
    }
    std::vector<Node> outer = std::move(g.tape_);
    g.tape_.clear();
    g.set_autocast(autocast);
    V recomputed = block(g, detached);
    g.set_autocast(false);
    std::vector<Node> inner = std::move(g.tape_);
    g.tape_ = std::move(outer);
    Grads grads;
    grads[recomputed.id] = grad_out;
    recomputed = V();
    g.run_backward(inner, grads);
    // The gradients of the detached inputs are what this node hands on, in input order.
    std::vector<StoragePtr> result;
    for (const V& d : detached)
      if (d.requires_grad) {
        const auto it = grads.find(d.id);
        result.push_back(it == grads.end() ? nullptr : it->second);
      }
    return result;
  };
  return out;
}

void Graph::accumulate(Grads& grads, const Node::In& in, StoragePtr g) {
  if (!g) return;
  if (in.param >= 0) {
    Param& p = params_[in.param];
    if (!p.grad) {
      // The first gradient becomes .grad (fp32, the parameter's dtype).
      p.grad = sim_.alloc(p.numel * 4, Cat::Gradients);
    } else {
      sim_.spike(in.grad_bytes, Cat::Temporary);  // accumulated out of place
    }
    return;
  }
  auto it = grads.find(in.id);
  if (it == grads.end()) {
    grads.emplace(in.id, std::move(g));
  } else {
    sim_.spike(in.grad_bytes, Cat::Temporary);  // the sum replaces the buffer
  }
}

void Graph::run_backward(std::vector<Node>& tape, Grads& grads) {
  for (auto node = tape.rbegin(); node != tape.rend(); ++node) {
    const auto it = grads.find(node->out);
    if (it == grads.end()) {
      node->release();
      continue;
    }
    StoragePtr grad_out = std::move(it->second);
    grads.erase(it);
    if (node->custom) {
      std::vector<StoragePtr> handed = node->custom(*this, *node, grad_out);
      grad_out.reset();
      node->release();
      for (int i = 0; i < node->in_count && i < int(handed.size()); ++i)
        accumulate(grads, node->ins[i], std::move(handed[i]));
      continue;
    }
    std::array<StoragePtr, 4> produced;
    for (int i = 0; i < node->in_count; ++i) {
      const Node::In& in = node->ins[i];
      // Parameters: accumulate() allocates .grad itself.
      produced[i] =
          in.param >= 0 || in.alias ? grad_out : sim_.alloc(in.grad_bytes, Cat::Temporary);
    }
    if (node->backward_temp > 0) sim_.spike(node->backward_temp, Cat::Workspace);
    for (int i = 0; i < node->in_count; ++i)
      accumulate(grads, node->ins[i], std::move(produced[i]));
    grad_out.reset();
    node->release();
  }
  tape.clear();
}

void Graph::backward(const V& loss) {
  std::vector<Node> tape;
  tape.swap(tape_);
  Grads grads;
  grads[loss.id] = sim_.alloc(loss.bytes(), Cat::Temporary);
  run_backward(tape, grads);
  tape_.swap(tape);  // both empty now: the next forward records into the old capacity
}

}  // namespace latentcast::estimator
