// Attention in batch slices: for kernels whose one launch takes at most `max_heads` of
// batch x heads (the CUDA kernels' grids), the batch is cut into slices that fit, each attended
// on its own, and the outputs concatenated; autograd flows through the slices. Internal to
// model/ (LibTorch).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace latentcast {

// attend(q, k, v) over batch slices of at most max_heads / heads batch entries each; one call
// when the whole batch fits. More heads than max_heads is an error naming `what`.
template <class Attend>
torch::Tensor in_batch_slices(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, std::int64_t max_heads, const char* what,
                              Attend attend) {
  const std::int64_t B = q.size(0), H = q.size(1);
  TORCH_CHECK(H <= max_heads, what, ": at most ", max_heads, " heads, got ", H);
  const std::int64_t per_launch = max_heads / H;
  if (B <= per_launch) return attend(q, k, v);
  std::vector<torch::Tensor> parts;
  for (std::int64_t b0 = 0; b0 < B; b0 += per_launch) {
    const std::int64_t n = std::min(per_launch, B - b0);
    parts.push_back(attend(q.narrow(0, b0, n), k.narrow(0, b0, n), v.narrow(0, b0, n)));
  }
  return torch::cat(parts, 0);
}

}  // namespace latentcast
