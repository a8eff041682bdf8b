// The attention interface: math against a hand-written softmax loop, sdpa against math (or its
// refusal), backend availability and resolution with their messages.
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/attention/attention.h"
#include "model/attention/availability.h"
#include "model/device.h"
#include "tests/support/check.h"

using latentcast::AttentionBackend;
using latentcast::AttentionSettings;

namespace {

// softmax(q k^T / sqrt(d)) v with scalar loops, in double.
torch::Tensor loop_attention(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v) {
  const auto B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), d = q.size(3);
  auto qa = q.accessor<double, 4>(), ka = k.accessor<double, 4>(), va = v.accessor<double, 4>();
  torch::Tensor out = torch::zeros({B, H, Nq, d}, torch::kFloat64);
  auto oa = out.accessor<double, 4>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Nq; ++i) {
        std::vector<double> s(Nk);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < Nk; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += qa[b][h][i][c] * ka[b][h][j][c];
          s[j] = dot / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, s[j]);
        }
        for (int64_t j = 0; j < Nk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < Nk; ++j)
          for (int64_t c = 0; c < d; ++c) oa[b][h][i][c] += s[j] / sum * va[b][h][j][c];
      }
  return out;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

const latentcast::DeviceReport kCpu{};  // what a run on the CPU asks with
// Why flash is refused on CUDA with kCpu's report (no device).
#if LATENTCAST_WITH_CUDA
const char* const kFlashCudaRefusal = "no usable CUDA device";
#else
const char* const kFlashCudaRefusal = "the CUDA flash kernel is not in this build";
#endif

}  // namespace

TEST_CASE("math attention equals a hand-written softmax loop") {
  torch::manual_seed(1);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor q = torch::randn({2, 3, 5, 4}, opts), k = torch::randn({2, 3, 7, 4}, opts),
                      v = torch::randn({2, 3, 7, 4}, opts);
  const torch::Tensor out = latentcast::math_attention(q, k, v);
  EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{2, 3, 5, 4}));
  EXPECT(out.scalar_type() == torch::kFloat64);
  EXPECT_NEAR(max_abs_diff(out, loop_attention(q, k, v)), 0.0, 1e-12);
  // Through the dispatcher too.
  AttentionSettings s;
  s.backend = AttentionBackend::Math;
  EXPECT_NEAR(max_abs_diff(latentcast::attention(q, k, v, s), out), 0.0, 0.0);
}

TEST_CASE("math attention keeps a 16-bit dtype and stays close to float32") {
  torch::manual_seed(2);
  const torch::Tensor q = torch::randn({1, 2, 16, 8}), k = torch::randn({1, 2, 16, 8}),
                      v = torch::randn({1, 2, 16, 8});
  const torch::Tensor ref = latentcast::math_attention(q, k, v);
  const torch::Tensor low = latentcast::math_attention(
      q.to(torch::kBFloat16), k.to(torch::kBFloat16), v.to(torch::kBFloat16));
  EXPECT(low.scalar_type() == torch::kBFloat16);
  EXPECT(max_abs_diff(low, ref) < 5e-2);
}

TEST_CASE("math attention rejects mismatched shapes") {
  const torch::Tensor q = torch::randn({1, 2, 4, 8}), k = torch::randn({1, 2, 5, 8}),
                      v = torch::randn({1, 2, 6, 8});
  EXPECT_THROWS_WITH(latentcast::math_attention(q, k, v), c10::Error, "k and v differ");
}

TEST_CASE("sdpa matches math where LibTorch has it, and is refused with the reason otherwise") {
  torch::manual_seed(3);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).requires_grad(true);
  const torch::Tensor q = torch::randn({2, 2, 9, 8}, opts), k = torch::randn({2, 2, 11, 8}, opts),
                      v = torch::randn({2, 2, 11, 8}, opts);
  AttentionSettings s;
  s.backend = AttentionBackend::Sdpa;
  const auto a = latentcast::backend_availability(AttentionBackend::Sdpa, kCpu, false, 8);
#if TORCH_VERSION_MAJOR >= 2
  REQUIRE(a.available);
  const torch::Tensor out = latentcast::attention(q, k, v, s);
  const torch::Tensor ref = latentcast::math_attention(q, k, v);
  EXPECT_NEAR(max_abs_diff(out, ref), 0.0, 1e-10);
  const torch::Tensor w = torch::randn_like(ref);
  const auto g = torch::autograd::grad({(out * w).sum()}, {q, k, v});
  const auto g_ref = torch::autograd::grad({(ref * w).sum()}, {q, k, v});
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(max_abs_diff(g[i], g_ref[i]), 0.0, 1e-10);
#else
  EXPECT(!a.available);
  EXPECT_EQ(a.reason, std::string("needs LibTorch >= 2.0, this is ") + TORCH_VERSION);
  EXPECT_THROWS_WITH(latentcast::attention(q, k, v, s), std::invalid_argument,
                     "needs LibTorch >= 2.0");
#endif
}

TEST_CASE("availability: every backend runs on the CPU; sage on CUDA waits for its kernel") {
  for (const auto b : {AttentionBackend::Math, AttentionBackend::Sliced, AttentionBackend::Flash,
                       AttentionBackend::Sage, AttentionBackend::Linear, AttentionBackend::Channel,
                       AttentionBackend::LocalWindow}) {
    const auto a = latentcast::backend_availability(b, kCpu, false, 40);
    EXPECT(a.available);
    EXPECT_EQ(a.reason, std::string());
  }
  // Flash on CUDA: in a CPU-only build the kernel is absent; in a CUDA build it needs a device,
  // which kCpu lacks.
  const auto flash = latentcast::backend_availability(AttentionBackend::Flash, kCpu, true, 64);
  EXPECT(!flash.available);
  EXPECT(flash.reason.find(kFlashCudaRefusal) != std::string::npos);
  const auto sage = latentcast::backend_availability(AttentionBackend::Sage, kCpu, true, 64);
  EXPECT(!sage.available);
  EXPECT(sage.reason.find("CUDA sage kernel") != std::string::npos);
  EXPECT(latentcast::backend_availability(AttentionBackend::LocalWindow, kCpu, true, 64).available);
}

TEST_CASE("auto resolves to the fastest available exact backend and says which") {
  std::string note;
  const auto b = latentcast::resolve_backend(AttentionBackend::Auto, kCpu, false, 32, &note);
#if TORCH_VERSION_MAJOR >= 2
  EXPECT(b == AttentionBackend::Sdpa);
  EXPECT_EQ(note, std::string("auto: using sdpa (fastest available exact backend)"));
#else
  EXPECT(b == AttentionBackend::Flash);
  EXPECT(note.find("auto: using flash (fastest available exact backend; sdpa unavailable: needs "
                   "LibTorch >= 2.0") == 0);
  // On CUDA with a CPU-only LibTorch 1.x neither sdpa nor flash can run: math, with both reasons.
  latentcast::DeviceReport gpu;
  gpu.cuda_available = true;
  EXPECT(latentcast::resolve_backend(AttentionBackend::Auto, gpu, true, 32, &note) ==
         AttentionBackend::Math);
  EXPECT(note.find("auto: using math (sdpa unavailable") == 0);
  EXPECT(note.find("flash unavailable: the CUDA flash kernel") != std::string::npos);
#endif
  EXPECT(latentcast::resolve_backend(AttentionBackend::Math, kCpu, false, 32) ==
         AttentionBackend::Math);
}

TEST_CASE("unavailable and unknown backends give a clear error") {
  EXPECT_THROWS_WITH(
      latentcast::resolve_backend(AttentionBackend::Flash, kCpu, true, 64), std::invalid_argument,
      (std::string("memory.attention_backend: 'flash' is unavailable here: ") + kFlashCudaRefusal)
          .c_str());
  EXPECT(latentcast::resolve_backend(AttentionBackend::Flash, kCpu, false, 64) ==
         AttentionBackend::Flash);
  // A value outside the enum (a corrupted setting): refused, not run as something else.
  EXPECT_THROWS_WITH(
      latentcast::resolve_backend(static_cast<AttentionBackend>(99), kCpu, false, 64),
      std::invalid_argument, "unknown attention backend");
  // Unknown names never reach the model: the project parser has no enum for them.
  EXPECT(!latentcast::enum_from_string<AttentionBackend>("flash2").has_value());

  const torch::Tensor x = torch::randn({1, 1, 4, 8});
  AttentionSettings s;
  s.backend = AttentionBackend::LocalWindow;
  EXPECT_THROWS_WITH(latentcast::attention(x, x, x, s), std::invalid_argument,
                     "needs the token grid");
  s.backend = AttentionBackend::Channel;
  EXPECT_THROWS_WITH(latentcast::attention(x, x, x, s), std::invalid_argument,
                     "needs a temperature per head");
  s.backend = AttentionBackend::Auto;
  EXPECT_THROWS_WITH(latentcast::attention(x, x, x, s), std::invalid_argument, "must be resolved");
}

LCTEST_MAIN
