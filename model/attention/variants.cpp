// The memory-saving operators that are not softmax attention over all tokens: linear, channel and
// local window. Each is plain LibTorch, differentiated by autograd; the tests hold each against a
// written-out reference of its own definition.
#include <algorithm>
#include <cmath>
#include <vector>

#include "model/attention/attention.h"

namespace latentcast {
namespace {

torch::Tensor feature_map(const torch::Tensor& x) {
  return torch::elu(x) + 1.0;  // positive, so every normaliser is > 0
}

// Start of each window along an axis of n tokens: stride w - o, the last window flush with the end,
// so every window is full (or the whole axis when n <= w).
std::vector<std::int64_t> window_starts(std::int64_t n, std::int64_t w, std::int64_t o) {
  if (n <= w) return {0};
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + w < n; s += w - o) starts.push_back(s);
  starts.push_back(n - w);
  return starts;
}

}  // namespace

// Ref: Katharopoulos et al. 2020, "Transformers are RNNs", eq. 6 with phi(x) = elu(x) + 1:
// out_i = phi(q_i) (sum_j phi(k_j)^T v_j) / (phi(q_i) . sum_j phi(k_j)), never forming N x N.
torch::Tensor linear_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v) {
  const auto type = c10::promoteTypes(q.scalar_type(), torch::kFloat32);
  const torch::Tensor fq = feature_map(q.to(type)), fk = feature_map(k.to(type));
  const torch::Tensor kv = torch::matmul(fk.transpose(-2, -1), v.to(type));  // [B, heads, d, d]
  const torch::Tensor norm = torch::matmul(fq, fk.sum(2).unsqueeze(-1));     // [B, heads, N, 1]
  return (torch::matmul(fq, kv) / norm).to(v.scalar_type());                 // [B, heads, N, d]
}

// Ref: Zamir et al. 2022, "Restormer", MDTA: attention over the d channels of each head, the d x d
// map softmax(q^ k^T * temperature) with q^, k^ L2-normalised over the tokens.
torch::Tensor channel_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& temperature) {
  TORCH_CHECK(q.size(2) == k.size(2),
              "channel attention is self-attention: q and k need the same tokens");
  TORCH_CHECK(temperature.numel() == q.size(1),
              "channel attention: one temperature per head expected, got ", temperature.numel(),
              " for ", q.size(1), " heads");
  const auto type = c10::promoteTypes(q.scalar_type(), torch::kFloat32);
  namespace F = torch::nn::functional;
  const torch::Tensor qn =
      F::normalize(q.to(type), F::NormalizeFuncOptions().dim(2));  // over tokens
  const torch::Tensor kn = F::normalize(k.to(type), F::NormalizeFuncOptions().dim(2));
  const torch::Tensor scores = torch::matmul(qn.transpose(-2, -1), kn) *
                               temperature.to(type).view({1, -1, 1, 1});  // [B, heads, d, d]
  const torch::Tensor p = torch::softmax(scores, -1);
  return torch::matmul(p, v.to(type).transpose(-2, -1))
      .transpose(-2, -1)
      .to(v.scalar_type());  // [B, heads, N, d]
}

// Windows of w x w tokens (clipped to the grid) starting every w - o tokens along each axis, the
// last flush with the edge. Inside a window, exact softmax attention; each window's output is
// weighted by a separable ramp, min(1, (t + 1) / (o + 1), (w - t) / (o + 1)) at offset t along each
// axis, and every token's output is the weighted mean over the windows that hold it. Memory per
// token is about (w / (w - o))^2 windows x w^2 scores, whatever the image size.
torch::Tensor local_window_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, std::int64_t height,
                                     std::int64_t width, std::int64_t window,
                                     std::int64_t overlap) {
  TORCH_CHECK(height > 0 && width > 0 && q.size(2) == height * width,
              "local window attention needs the token grid: ", q.size(2), " tokens, grid ", height,
              " x ", width);
  TORCH_CHECK(k.size(2) == q.size(2),
              "local window attention is self-attention: q and k need the same tokens");
  TORCH_CHECK(window >= 1 && overlap >= 0 && overlap < window,
              "local window attention: need window >= 1 and 0 <= overlap < window, got ", window,
              " and ", overlap);
  const std::int64_t wy = std::min(window, height), wx = std::min(window, width);
  const auto ys = window_starts(height, window, overlap),
             xs = window_starts(width, window, overlap);
  const auto ramp = [&](std::int64_t t, std::int64_t size) {
    return std::min(
        {1.0, double(t + 1) / double(overlap + 1), double(size - t) / double(overlap + 1)});
  };
  // Token index and blending weight of every (window, position in window).
  const std::int64_t n_windows = std::int64_t(ys.size() * xs.size()), tokens = wy * wx;
  std::vector<std::int64_t> index;
  std::vector<double> weight;
  index.reserve(std::size_t(n_windows * tokens));
  weight.reserve(std::size_t(n_windows * tokens));
  for (const auto y0 : ys)
    for (const auto x0 : xs)
      for (std::int64_t ty = 0; ty < wy; ++ty)
        for (std::int64_t tx = 0; tx < wx; ++tx) {
          index.push_back((y0 + ty) * width + x0 + tx);
          weight.push_back(ramp(ty, wy) * ramp(tx, wx));
        }
  const auto type = c10::promoteTypes(q.scalar_type(), torch::kFloat32);
  const torch::Tensor idx = torch::tensor(index, torch::TensorOptions(torch::kLong)).to(q.device());
  const torch::Tensor w =
      torch::tensor(weight, torch::TensorOptions(torch::kFloat64)).to(q.device(), type);
  const torch::Tensor total =
      torch::zeros({height * width}, w.options()).index_add_(0, idx, w);  // > 0 everywhere

  const std::int64_t b = q.size(0), h = q.size(1), d = q.size(3);
  const auto gather =
      [&](const torch::Tensor& x) {  // [B, heads, N, d] -> [B, heads * windows, w^2, d]
        return x.index_select(2, idx).view({b, h * n_windows, tokens, d});
      };
  const torch::Tensor o =
      math_attention(gather(q), gather(k), gather(v)).to(type);  // [B, heads * windows, w^2, d]
  const torch::Tensor weighted = o.view({b, h, n_windows * tokens, d}) * w.view({1, 1, -1, 1});
  const torch::Tensor sum =
      torch::zeros({b, h, height * width, d}, weighted.options()).index_add(2, idx, weighted);
  return (sum / total.view({1, 1, -1, 1})).to(v.scalar_type());
}

}  // namespace latentcast
