// Gradient checkpointing: equal gradients with and without it (dropout included), the RNG handling
// that makes that true, and an unchanged random stream for the caller.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "model/nn/checkpoint.h"
#include "tests/support/check.h"

using latentcast::nn::checkpoint;

namespace {

// A block with parameters, dropout (p = 0.5, training) and a second input that needs no gradient.
struct Block {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

  Block() {
    torch::manual_seed(11);
    fc1 = torch::nn::Linear(6, 16);
    fc2 = torch::nn::Linear(16, 6);
    fc1->to(torch::kFloat64);
    fc2->to(torch::kFloat64);
  }

  torch::Tensor operator()(const std::vector<torch::Tensor>& in) {
    torch::Tensor h = torch::tanh(fc1(in[0]));
    h = torch::nn::functional::dropout(
        h, torch::nn::functional::DropoutFuncOptions().p(0.5).training(true));
    return fc2(h) * in[1];
  }

  std::vector<torch::Tensor> parameters() {
    auto p = fc1->parameters();
    for (const auto& t : fc2->parameters()) p.push_back(t);
    return p;
  }

  void zero_grad() {
    fc1->zero_grad();
    fc2->zero_grad();
  }
};

struct Result {
  torch::Tensor out, x_grad;
  std::vector<torch::Tensor> param_grads;
  torch::Tensor y_grad;
  torch::Tensor next_draw;  // the first random draw after forward and backward
};

enum class Mode { Plain, Checkpointed, CheckpointedTemporaryFn, RecomputeWithoutRestore };

Result run(Block& block, Mode mode) {
  block.zero_grad();
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({4, 6}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor y = torch::randn({4, 6}, torch::kFloat64);  // no gradient wanted
  const torch::Tensor w = torch::randn({4, 6}, torch::kFloat64);
  const auto fn = [&block](const std::vector<torch::Tensor>& in) { return block(in); };
  torch::Tensor out;
  switch (mode) {
    case Mode::Plain:
      out = fn({x, y});
      break;
    case Mode::Checkpointed:
      out = checkpoint(fn, {x, y});
      break;
    case Mode::CheckpointedTemporaryFn: {
      // The caller's function object is gone before the backward runs.
      auto temporary = std::make_unique<latentcast::nn::CheckpointFn>(fn);
      out = checkpoint(*temporary, {x, y});
      break;
    }
    case Mode::RecomputeWithoutRestore: {
      // What a checkpoint that forgot the RNG would do: a no-grad forward, then a recomputation
      // that draws the next masks from the stream.
      {
        const torch::NoGradGuard no_grad;
        fn({x, y});
      }
      out = fn({x, y});
      break;
    }
  }
  // A draw after the block, before the backward: the stream must continue from here afterwards.
  out = torch::nn::functional::dropout(
      out, torch::nn::functional::DropoutFuncOptions().p(0.5).training(true));
  (out * w).sum().backward();
  Result r;
  r.out = out.detach();
  r.x_grad = x.grad();
  for (const auto& p : block.parameters()) r.param_grads.push_back(p.grad().clone());
  r.y_grad = y.grad();
  r.next_draw = torch::rand({8}, torch::kFloat64);
  return r;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("checkpointed gradients equal plain ones, dropout included") {
  Block block;
  const Result plain = run(block, Mode::Plain);
  const Result ck = run(block, Mode::Checkpointed);
  EXPECT_NEAR(max_diff(plain.out, ck.out), 0.0, 1e-12);
  REQUIRE(ck.x_grad.defined());
  EXPECT_NEAR(max_diff(plain.x_grad, ck.x_grad), 0.0, 1e-6);
  REQUIRE(plain.param_grads.size() == 4 && ck.param_grads.size() == 4);
  for (std::size_t i = 0; i < plain.param_grads.size(); ++i) {
    REQUIRE(ck.param_grads[i].defined());
    EXPECT(plain.param_grads[i].abs().max().item<double>() > 0);
    EXPECT_NEAR(max_diff(plain.param_grads[i], ck.param_grads[i]), 0.0, 1e-6);
  }
  // The input that needed no gradient gets none.
  EXPECT(!ck.y_grad.defined());
}

TEST_CASE("without restoring the RNG the recomputation would draw other masks") {
  Block block;
  const Result plain = run(block, Mode::Plain);
  const Result wrong = run(block, Mode::RecomputeWithoutRestore);
  EXPECT(max_diff(plain.x_grad, wrong.x_grad) > 1e-3);
  EXPECT(max_diff(plain.param_grads[0], wrong.param_grads[0]) > 1e-3);
}

TEST_CASE("the random stream after checkpointed forward and backward equals the plain one") {
  Block block;
  const Result plain = run(block, Mode::Plain);
  const Result ck = run(block, Mode::Checkpointed);
  EXPECT_NEAR(max_diff(plain.next_draw, ck.next_draw), 0.0, 0.0);
}

TEST_CASE("the wrapped function may go out of scope before the backward") {
  Block block;
  const Result plain = run(block, Mode::Plain);
  const Result ck = run(block, Mode::CheckpointedTemporaryFn);
  EXPECT_NEAR(max_diff(plain.x_grad, ck.x_grad), 0.0, 1e-6);
  EXPECT_NEAR(max_diff(plain.param_grads[0], ck.param_grads[0]), 0.0, 1e-6);
}

TEST_CASE("no input requiring grad: a plain call, parameters still get gradients") {
  Block block;
  block.zero_grad();
  const torch::Tensor x = torch::randn({4, 6}, torch::kFloat64);
  const torch::Tensor y = torch::ones({4, 6}, torch::kFloat64);
  const torch::Tensor out =
      checkpoint([&block](const std::vector<torch::Tensor>& in) { return block(in); }, {x, y});
  REQUIRE(out.requires_grad());
  out.sum().backward();
  EXPECT(block.fc1->weight.grad().defined());
  EXPECT(block.fc1->weight.grad().abs().max().item<double>() > 0);
}

TEST_CASE("under no_grad checkpoint is a plain call without a graph") {
  Block block;
  const torch::Tensor x = torch::randn({4, 6}, torch::kFloat64).requires_grad_(true);
  const torch::NoGradGuard no_grad;
  const torch::Tensor out =
      checkpoint([&block](const std::vector<torch::Tensor>& in) { return block(in); },
                 {x, torch::ones_like(x)});
  EXPECT(!out.requires_grad());
}

TEST_CASE("undefined inputs are refused") {
  EXPECT_THROWS_WITH(
      checkpoint([](const std::vector<torch::Tensor>& in) { return in[0]; }, {torch::Tensor()}),
      c10::Error, "inputs must be defined");
}

LCTEST_MAIN
