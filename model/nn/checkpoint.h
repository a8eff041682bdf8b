// Gradient checkpointing as a custom autograd function (LibTorch has no checkpoint utility): the
// wrapped function runs without keeping its activations; the backward restores the RNG state the
// forward saw (so dropout draws the same masks), recomputes it with gradients, and backpropagates.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace latentcast::nn {

using CheckpointFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

// Returns fn(inputs). Parameters used inside fn receive their gradients in the backward
// (accumulated into .grad, as usual, also under torch::autograd::grad: the recomputation is a
// reentrant backward). A plain call (activations kept) when grad mode is off or no input requires
// grad: the autograd node is only recorded when an input requires grad. A copy of fn is kept until
// the backward; what fn captures by reference must outlive it. Inputs must be defined; fn must
// return one tensor.
torch::Tensor checkpoint(const CheckpointFn& fn, const std::vector<torch::Tensor>& inputs);

}  // namespace latentcast::nn
