// Every attention backend on the CPU: exact ones (sliced, flash) against math, sage within its
// quantisation error, linear, channel and local window against written-out references of their own
// definitions; gradients against math or finite differences; memory growth measured with the
// counting allocator; a UNet training a few steps with each backend.
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "model/attention/attention.h"
#include "model/attention/batch_slices.h"
#include "model/memory/cpu_memory.h"
#include "model/nn/unet.h"
#include "tests/support/check.h"

using latentcast::AttentionBackend;

namespace {

using Fn =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

struct Qkv {
  torch::Tensor q, k, v;
};

Qkv random_qkv(int64_t b, int64_t h, int64_t nq, int64_t nk, int64_t d, torch::Dtype dtype,
               uint64_t seed) {
  torch::manual_seed(seed);
  const auto opts = torch::TensorOptions().dtype(dtype).requires_grad(true);
  return {torch::randn({b, h, nq, d}, opts), torch::randn({b, h, nk, d}, opts),
          torch::randn({b, h, nk, d}, opts)};
}

double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kFloat64);
  // Relative to the largest reference value, with a floor: a zero gradient (one key) is compared
  // absolutely.
  return (a.to(torch::kFloat64) - r).abs().max().item<double>() /
         std::max(r.abs().max().item<double>(), 1e-3);
}

double cos_sim(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kFloat64).flatten(), y = b.to(torch::kFloat64).flatten();
  return (x.dot(y) / (x.norm() * y.norm())).item<double>();
}

double rel_l1(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kFloat64);
  return ((a.to(torch::kFloat64) - r).abs().sum() / r.abs().sum()).item<double>();
}

// Output and gradients of sum(out * w) with respect to q, k, v.
std::vector<torch::Tensor> run(const Fn& fn, const Qkv& x, const torch::Tensor& w) {
  const torch::Tensor out = fn(x.q, x.k, x.v);
  auto g = torch::autograd::grad({(out * w).sum()}, {x.q, x.k, x.v});
  return {out.detach(), g[0], g[1], g[2]};
}

// Central finite differences of sum(fn(..) * w) at a few entries of each input (float64).
void expect_finite_differences(const std::string& what, const std::function<torch::Tensor()>& loss,
                               const std::vector<torch::Tensor>& inputs) {
  const auto grads = torch::autograd::grad({loss()}, inputs);
  const double eps = 1e-6;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor flat = inputs[i].detach().view(-1);  // shares storage with the input
    for (const int64_t at : {int64_t(0), flat.numel() / 3, flat.numel() - 1}) {
      const double keep = flat[at].item<double>();
      double plus = 0, minus = 0;
      {
        const torch::NoGradGuard no_grad;
        flat[at] = keep + eps;
        plus = loss().item<double>();
        flat[at] = keep - eps;
        minus = loss().item<double>();
        flat[at] = keep;
      }
      const double numeric = (plus - minus) / (2 * eps);
      const double analytic = grads[i].reshape(-1)[at].item<double>();
      if (std::abs(numeric - analytic) > 1e-6 * std::max(1.0, std::abs(numeric)))
        lctest::report(__FILE__, __LINE__,
                       what + ": input " + std::to_string(i) + " entry " + std::to_string(at) +
                           " analytic " + std::to_string(analytic) + " vs numeric " +
                           std::to_string(numeric));
    }
  }
}

struct Case {
  int64_t b, h, nq, nk, d;
};

// Odd sizes: N not a multiple of the 64-token tile, head dims 32, 40, 64, 80, 128, batch 3,
// cross-attention.
const std::vector<Case> kOddShapes = {{3, 2, 67, 67, 32}, {1, 1, 130, 130, 40}, {2, 3, 65, 65, 64},
                                      {1, 2, 33, 33, 80}, {1, 1, 70, 70, 128},  {2, 2, 50, 17, 32},
                                      {1, 1, 1, 1, 32}};

void expect_exact(const std::string& name, const Fn& fn) {
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const double tol = dtype == torch::kFloat64 ? 1e-11 : 2e-5;
    for (const auto& c : kOddShapes) {
      const Qkv x = random_qkv(c.b, c.h, c.nq, c.nk, c.d, dtype, 7 + c.nq + c.d);
      const torch::Tensor w =
          torch::randn({c.b, c.h, c.nq, c.d}, torch::TensorOptions().dtype(dtype));
      const auto got = run(fn, x, w);
      const auto ref = run(latentcast::math_attention, x, w);
      const std::string where = name + " " + (dtype == torch::kFloat64 ? "f64" : "f32") + " B" +
                                std::to_string(c.b) + " H" + std::to_string(c.h) + " N" +
                                std::to_string(c.nq) + "x" + std::to_string(c.nk) + " d" +
                                std::to_string(c.d);
      EXPECT(got[0].scalar_type() == dtype);
      EXPECT_EQ(got[0].sizes().vec(), ref[0].sizes().vec());
      const char* part[] = {"out", "dq", "dk", "dv"};
      for (int i = 0; i < 4; ++i) {
        const double e = rel_err(got[i], ref[i]);
        if (!(e <= tol))
          lctest::report(__FILE__, __LINE__,
                         where + " " + part[i] + " rel err " + std::to_string(e));
      }
    }
  }
}

}  // namespace

TEST_CASE(
    "flash (CPU kernel) equals math: forward and gradients, float64 and float32, odd shapes") {
  expect_exact("flash", latentcast::flash_attention_cpu);
  const Qkv x = random_qkv(1, 2, 9, 11, 5, torch::kFloat64, 3);
  const torch::Tensor w = torch::randn({1, 2, 9, 5}, torch::kFloat64);
  expect_finite_differences(
      "flash", [&] { return (latentcast::flash_attention_cpu(x.q, x.k, x.v) * w).sum(); },
      {x.q, x.k, x.v});
}

TEST_CASE("sliced equals math: forward and gradients for slices that do not divide N") {
  for (const int64_t slice : {1, 16, 1000}) {
    expect_exact("sliced/" + std::to_string(slice),
                 [slice](const auto& q, const auto& k, const auto& v) {
                   return latentcast::sliced_attention(q, k, v, slice);
                 });
  }
  EXPECT_THROWS_WITH(
      latentcast::sliced_attention(torch::randn({1, 1, 4, 8}), torch::randn({1, 1, 4, 8}),
                                   torch::randn({1, 1, 4, 8}), 0),
      c10::Error, "slice size must be >= 1");
}

TEST_CASE("flash takes 16-bit inputs, computes in float32 and returns the caller's dtype") {
  const Qkv x = random_qkv(2, 2, 100, 100, 32, torch::kFloat32, 5);
  const torch::Tensor ref = latentcast::math_attention(x.q, x.k, x.v);
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    const torch::Tensor q = x.q.detach().to(dtype).requires_grad_(),
                        k = x.k.detach().to(dtype).requires_grad_(),
                        v = x.v.detach().to(dtype).requires_grad_();
    const torch::Tensor out = latentcast::flash_attention_cpu(q, k, v);
    EXPECT(out.scalar_type() == dtype);
    EXPECT(rel_err(out, ref) < 2e-2);
    out.sum().backward();
    EXPECT(q.grad().scalar_type() == dtype && k.grad().defined() && v.grad().defined());
  }
}

TEST_CASE("flash refuses GPU tensors and mismatched shapes with a message") {
  EXPECT_THROWS_WITH(
      latentcast::flash_attention_cpu(torch::randn({1, 1, 4, 8}), torch::randn({1, 1, 5, 8}),
                                      torch::randn({1, 1, 6, 8})),
      c10::Error, "k and v differ in shape");
  EXPECT_THROWS_WITH(
      latentcast::flash_attention_cpu(torch::randn({1, 1, 4, 8}), torch::randn({1, 1, 5, 4}),
                                      torch::randn({1, 1, 5, 4})),
      c10::Error, "q and k differ");
}

TEST_CASE(
    "INT8 block quantisation: integer values, one scale per block, error at most half a step") {
  torch::manual_seed(11);
  const torch::Tensor x = torch::randn({2, 3, 130, 40}) * 3;
  const auto q = latentcast::quantize_int8_blocks(x, 64);
  EXPECT(q.values.scalar_type() == torch::kInt8);
  EXPECT_EQ(q.values.sizes().vec(), x.sizes().vec());
  EXPECT_EQ(q.scales.sizes().vec(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT(q.values.to(torch::kInt32).abs().max().item<int>() ==
         127);  // each block's maximum maps to 127
  const torch::Tensor scale_per_token =
      q.scales.repeat_interleave(64, 2).slice(2, 0, 130).unsqueeze(-1);  // [2, 3, 130, 1]
  const torch::Tensor err = (q.values.to(torch::kFloat32) * scale_per_token - x).abs();
  EXPECT((err <= scale_per_token * 0.5 + 1e-6).all().item<bool>());
  // An all-zero block gets scale 1, not a division by zero.
  const auto z = latentcast::quantize_int8_blocks(torch::zeros({1, 1, 10, 8}), 4);
  EXPECT(torch::equal(z.scales, torch::ones({1, 1, 3})));
  EXPECT(z.values.abs().sum().item<int64_t>() == 0);
}

TEST_CASE(
    "sage is within its quantisation error of math on random and smooth inputs, gradients too") {
  // Random inputs at a head dim of 64, and UNet-like ones: smooth fields over a 16 x 16 grid with a
  // large offset shared by all keys (the outlier channel smoothing removes).
  torch::manual_seed(21);
  const int64_t n = 256, d = 64;
  const torch::Tensor pos = torch::arange(n, torch::kFloat32);
  const torch::Tensor yy = (pos / 16).floor().view({n, 1}), xx = torch::fmod(pos, 16).view({n, 1});
  const torch::Tensor freq = torch::rand({1, d}) * 0.6;
  const torch::Tensor phase = torch::rand({1, d}) * 6.28;
  const torch::Tensor field =
      torch::sin(yy * freq + phase) + torch::cos(xx * freq.flip(1) - phase);  // [N, d]
  const torch::Tensor offset = torch::randn({1, d}) * 8;
  struct Input {
    const char* name;
    torch::Tensor q, k, v;
  };
  const std::vector<Input> inputs = {
      {"random", torch::randn({2, 2, n, d}), torch::randn({2, 2, n, d}),
       torch::randn({2, 2, n, d})},
      {"smooth", (field * 1.5).view({1, 1, n, d}),
       (field.roll(7, 0) * 1.5 + offset).view({1, 1, n, d}), field.roll(3, 1).view({1, 1, n, d})},
  };
  for (const auto& in : inputs) {
    const Qkv x{in.q.clone().requires_grad_(), in.k.clone().requires_grad_(),
                in.v.clone().requires_grad_()};
    const torch::Tensor w = torch::randn(in.q.sizes());
    const auto got = run(latentcast::sage_attention_cpu, x, w);
    const Qkv x64{in.q.to(torch::kFloat64).requires_grad_(),
                  in.k.to(torch::kFloat64).requires_grad_(),
                  in.v.to(torch::kFloat64).requires_grad_()};
    const auto ref = run(latentcast::math_attention, x64, w.to(torch::kFloat64));
    const double cs = cos_sim(got[0], ref[0]), l1 = rel_l1(got[0], ref[0]);
    if (!(cs >= 0.999 && l1 <= 0.03))
      lctest::report(
          __FILE__, __LINE__,
          std::string(in.name) + ": cos " + std::to_string(cs) + " rel L1 " + std::to_string(l1));
    for (int i = 1; i < 4; ++i) {
      const double g = cos_sim(got[i], ref[i]);
      if (!(g >= 0.99))
        lctest::report(
            __FILE__, __LINE__,
            std::string(in.name) + ": gradient " + std::to_string(i) + " cos " + std::to_string(g));
    }
  }
}

TEST_CASE("sage on the odd shapes: cosine >= 0.999 to math, float32 and float64 in, dtype kept") {
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (const auto& c : kOddShapes) {
      const Qkv x = random_qkv(c.b, c.h, c.nq, c.nk, c.d, dtype, 61 + c.nq);
      const torch::Tensor w =
          torch::randn({c.b, c.h, c.nq, c.d}, torch::TensorOptions().dtype(dtype));
      const auto got = run(latentcast::sage_attention_cpu, x, w);
      const auto ref = run(latentcast::math_attention, x, w);
      EXPECT(got[0].scalar_type() == dtype && got[1].scalar_type() == dtype);
      for (int i = 0; i < 4; ++i) {
        const double cs = cos_sim(got[i], ref[i]);
        // Gradients of q and k vanish with a single key; compare only where they exist.
        if (c.nk == 1 && (i == 1 || i == 2)) continue;
        if (!(cs >= (i == 0 ? 0.999 : 0.99)))
          lctest::report(__FILE__, __LINE__,
                         "sage N" + std::to_string(c.nq) + "x" + std::to_string(c.nk) + " d" +
                             std::to_string(c.d) + " part " + std::to_string(i) + " cos " +
                             std::to_string(cs));
      }
    }
  }
}

TEST_CASE("linear attention equals its materialised definition, with gradients") {
  const auto reference = [](const torch::Tensor& q, const torch::Tensor& k,
                            const torch::Tensor& v) {
    const torch::Tensor fq = torch::where(q > 0, q + 1, torch::exp(q));  // elu(x) + 1, written out
    const torch::Tensor fk = torch::where(k > 0, k + 1, torch::exp(k));
    const torch::Tensor a = torch::matmul(fq, fk.transpose(-2, -1));  // [B, heads, Nq, Nk]
    return torch::matmul(a / a.sum(-1, true), v);
  };
  for (const auto& c : kOddShapes) {
    const Qkv x = random_qkv(c.b, c.h, c.nq, c.nk, c.d, torch::kFloat64, 31 + c.nq);
    const torch::Tensor w = torch::randn({c.b, c.h, c.nq, c.d}, torch::kFloat64);
    const auto got = run(latentcast::linear_attention, x, w);
    const auto ref = run(reference, x, w);
    for (int i = 0; i < 4; ++i) {
      const double e = rel_err(got[i], ref[i]);
      if (!(e < 1e-10))
        lctest::report(__FILE__, __LINE__,
                       "linear N" + std::to_string(c.nq) + "x" + std::to_string(c.nk) + " part " +
                           std::to_string(i) + " rel err " + std::to_string(e));
    }
  }
  const Qkv x = random_qkv(2, 2, 40, 40, 32, torch::kFloat32, 4);
  EXPECT(rel_err(latentcast::linear_attention(x.q, x.k, x.v),
                 reference(x.q.to(torch::kFloat64), x.k.to(torch::kFloat64),
                           x.v.to(torch::kFloat64))) < 1e-5);
}

TEST_CASE(
    "channel attention equals a loop over channel pairs, with gradients for the temperature") {
  const int64_t b = 2, h = 2, n = 13, d = 5;
  const Qkv x = random_qkv(b, h, n, n, d, torch::kFloat64, 41);
  const torch::Tensor temperature = torch::tensor({0.7, 1.9}, torch::kFloat64).requires_grad_();
  const torch::Tensor out = latentcast::channel_attention(x.q, x.k, x.v, temperature);
  auto qa = x.q.accessor<double, 4>(), ka = x.k.accessor<double, 4>(),
       va = x.v.accessor<double, 4>();
  auto oa = out.accessor<double, 4>();
  double worst = 0;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t c1 = 0; c1 < d; ++c1) {
        double qn = 0;
        for (int64_t t = 0; t < n; ++t) qn += qa[bi][hi][t][c1] * qa[bi][hi][t][c1];
        std::vector<double> s(d);
        double total = 0;
        for (int64_t c2 = 0; c2 < d; ++c2) {
          double kn = 0, dot = 0;
          for (int64_t t = 0; t < n; ++t) {
            kn += ka[bi][hi][t][c2] * ka[bi][hi][t][c2];
            dot += qa[bi][hi][t][c1] * ka[bi][hi][t][c2];
          }
          s[c2] = std::exp(dot / std::sqrt(qn * kn) * temperature[hi].item<double>());
          total += s[c2];
        }
        for (int64_t t = 0; t < n; ++t) {
          double o = 0;
          for (int64_t c2 = 0; c2 < d; ++c2) o += s[c2] / total * va[bi][hi][t][c2];
          worst = std::max(worst, std::abs(o - oa[bi][hi][t][c1]));
        }
      }
  EXPECT(worst < 1e-12);
  const torch::Tensor w = torch::randn(out.sizes(), torch::kFloat64);
  expect_finite_differences(
      "channel",
      [&] { return (latentcast::channel_attention(x.q, x.k, x.v, temperature) * w).sum(); },
      {x.q, x.k, x.v, temperature});
  EXPECT_THROWS_WITH(
      latentcast::channel_attention(x.q, x.k.narrow(2, 0, 4), x.v.narrow(2, 0, 4), temperature),
      c10::Error, "same tokens");
}

namespace {

// Local window attention written from its definition: enumerate the windows, attend inside each
// with the softmax loop of math, blend with the ramp weights.
torch::Tensor local_window_reference(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, int64_t height, int64_t width,
                                     int64_t w, int64_t o) {
  const auto starts = [&](int64_t n) {
    std::vector<int64_t> s;
    if (n <= w) return std::vector<int64_t>{0};
    int64_t at = 0;
    while (at + w < n) {
      s.push_back(at);
      at += w - o;
    }
    s.push_back(n - w);
    return s;
  };
  const auto ramp = [&](int64_t t, int64_t size) {
    double r = 1.0;
    if (t < o) r = std::min(r, double(t + 1) / double(o + 1));
    if (size - 1 - t < o) r = std::min(r, double(size - t) / double(o + 1));
    return r;
  };
  const int64_t wy = std::min(w, height), wx = std::min(w, width);
  torch::Tensor num = torch::zeros_like(v), den = torch::zeros({height * width}, torch::kFloat64);
  for (const int64_t y0 : starts(height))
    for (const int64_t x0 : starts(width)) {
      std::vector<int64_t> tokens;
      std::vector<double> weights;
      for (int64_t y = y0; y < y0 + wy; ++y)
        for (int64_t x = x0; x < x0 + wx; ++x) {
          tokens.push_back(y * width + x);
          weights.push_back(ramp(y - y0, wy) * ramp(x - x0, wx));
        }
      const torch::Tensor idx = torch::tensor(tokens);
      const torch::Tensor o_win = latentcast::math_attention(
          q.index_select(2, idx), k.index_select(2, idx), v.index_select(2, idx));
      const torch::Tensor wt = torch::tensor(weights, torch::kFloat64);
      num = num.index_add(2, idx, o_win * wt.view({1, 1, -1, 1}));
      den = den.index_add(0, idx, wt);
    }
  return num / den.view({1, 1, -1, 1});
}

}  // namespace

TEST_CASE("local window attention equals per-window attention blended by fading weights") {
  struct Grid {
    int64_t height, width, window, overlap;
  };
  for (const Grid g : {Grid{8, 8, 4, 1}, Grid{9, 7, 4, 2}, Grid{5, 12, 3, 0}, Grid{3, 3, 8, 2},
                       Grid{16, 16, 8, 2}}) {
    const Qkv x =
        random_qkv(2, 2, g.height * g.width, g.height * g.width, 8, torch::kFloat64, 51 + g.width);
    const torch::Tensor out =
        latentcast::local_window_attention(x.q, x.k, x.v, g.height, g.width, g.window, g.overlap);
    const torch::Tensor ref =
        local_window_reference(x.q, x.k, x.v, g.height, g.width, g.window, g.overlap);
    EXPECT(rel_err(out, ref) < 1e-12);
  }
  // A window covering the whole grid is full attention.
  const Qkv x = random_qkv(1, 2, 12, 12, 8, torch::kFloat64, 5);
  EXPECT(rel_err(latentcast::local_window_attention(x.q, x.k, x.v, 3, 4, 4, 1),
                 latentcast::math_attention(x.q, x.k, x.v)) < 1e-12);
  // Gradients.
  const Qkv y = random_qkv(1, 1, 30, 30, 4, torch::kFloat64, 6);
  const torch::Tensor w = torch::randn({1, 1, 30, 4}, torch::kFloat64);
  expect_finite_differences(
      "local_window",
      [&] { return (latentcast::local_window_attention(y.q, y.k, y.v, 5, 6, 3, 1) * w).sum(); },
      {y.q, y.k, y.v});
  EXPECT_THROWS_WITH(latentcast::local_window_attention(y.q, y.k, y.v, 4, 6, 3, 1), c10::Error,
                     "token grid");
  EXPECT_THROWS_WITH(latentcast::local_window_attention(y.q, y.k, y.v, 5, 6, 3, 3), c10::Error,
                     "overlap < window");
}

namespace {

// Peak bytes LibTorch allocates on the CPU beyond what is held before, over forward and backward.
int64_t peak_extra_bytes(const Fn& fn, int64_t n, int64_t d) {
  const Qkv x = random_qkv(1, 2, n, n, d, torch::kFloat32, 1);
  const torch::Tensor w = torch::randn({1, 2, n, d});
  const int64_t before = latentcast::memory::cpu_current_bytes();
  latentcast::memory::reset_cpu_peak();
  {
    const torch::Tensor out = fn(x.q, x.k, x.v);
    (out * w).sum().backward();
  }
  return latentcast::memory::cpu_peak_bytes() - before;
}

}  // namespace

TEST_CASE("memory: flash, sliced and local window grow linearly with N, math quadratically") {
  latentcast::memory::install_cpu_counter();
  REQUIRE(latentcast::memory::cpu_counter_installed());
  const int64_t d = 32;
  const Fn sliced = [](const auto& q, const auto& k, const auto& v) {
    return latentcast::sliced_attention(q, k, v, 128);
  };
  const Fn local = [](const auto& q, const auto& k, const auto& v) {
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(q.size(2)))));
    return latentcast::local_window_attention(q, k, v, side, side, 8, 2);
  };
  const int64_t math1 = peak_extra_bytes(latentcast::math_attention, 1024, d);
  const int64_t math2 = peak_extra_bytes(latentcast::math_attention, 4096, d);
  const int64_t flash1 = peak_extra_bytes(latentcast::flash_attention_cpu, 1024, d);
  const int64_t flash2 = peak_extra_bytes(latentcast::flash_attention_cpu, 4096, d);
  const int64_t local1 = peak_extra_bytes(local, 1024, d);
  const int64_t local2 = peak_extra_bytes(local, 4096, d);
  const int64_t sliced2 = peak_extra_bytes(sliced, 4096, d);
  std::printf(
      "peak extra bytes N=1024 -> 4096: math %lld -> %lld, flash %lld -> %lld, local %lld -> %lld, "
      "sliced(128) at 4096 %lld\n",
      (long long)math1, (long long)math2, (long long)flash1, (long long)flash2, (long long)local1,
      (long long)local2, (long long)sliced2);
  // 4x the tokens: math needs ~16x (the N x N scores), the others ~4x.
  EXPECT(double(math2) / double(math1) > 12.0);
  EXPECT(double(flash2) / double(flash1) < 5.0);
  EXPECT(double(local2) / double(local1) < 5.0);
  // At N = 4096 the score matrices of math (two [2, 4096, 4096] float32 buffers at least) dwarf the
  // rest.
  EXPECT(math2 > 2 * 2 * 4096LL * 4096 * 4);
  EXPECT(flash2 * 20 < math2);
  EXPECT(sliced2 * 8 < math2);
}

TEST_CASE("a UNet trains a few steps with every backend that runs here") {
  std::vector<AttentionBackend> backends = {AttentionBackend::Math,       AttentionBackend::Sliced,
                                            AttentionBackend::Flash,      AttentionBackend::Sage,
                                            AttentionBackend::Linear,     AttentionBackend::Channel,
                                            AttentionBackend::LocalWindow};
#if TORCH_VERSION_MAJOR >= 2
  backends.push_back(AttentionBackend::Sdpa);
#endif
  for (const auto backend : backends) {
    torch::manual_seed(3);
    latentcast::nn::UnetOptions o;
    o.channels = {8, 16};
    o.attention_levels = {0, 1};
    o.heads = 2;
    o.cond_channels = 0;
    o.context_dim = 6;  // cross-attention too
    o.dropout = 0.0;
    o.attention.backend = backend;
    o.attention.slice_size = 7;
    o.attention.window_size = 4;
    o.attention.window_overlap = 1;
    latentcast::nn::Unet net(o);
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-2));
    const torch::Tensor x = torch::randn({4, 4, 8, 8}), t = torch::randint(0, 1000, {4});
    const torch::Tensor context = torch::randn({4, 5, 6}), target = torch::randn({4, 4, 8, 8});
    double first = 0, last = 0;
    for (int step = 0; step < 8; ++step) {
      opt.zero_grad();
      const torch::Tensor loss =
          torch::mse_loss(net->forward(x, t, torch::Tensor(), context), target);
      loss.backward();
      opt.step();
      (step == 0 ? first : last) = loss.item<double>();
    }
    const std::string name = latentcast::to_string(backend);
    if (!(std::isfinite(last) && last < first))
      lctest::report(__FILE__, __LINE__,
                     name + ": loss " + std::to_string(first) + " -> " + std::to_string(last));
    bool has_temperature = false;
    for (const auto& p : net->named_parameters())
      has_temperature |= p.key().find("temperature") != std::string::npos;
    EXPECT(has_temperature == (backend == AttentionBackend::Channel));
  }
}

TEST_CASE("batch slices: a launch limit on batch x heads splits the batch, same values and grads") {
  // The CUDA kernels take at most 65535 batch x heads per launch; here a limit of 6 with 2 heads
  // makes slices of 3, 3 and 1 batch entries.
  const Qkv x = random_qkv(7, 2, 5, 6, 8, torch::kFloat64, 5);
  std::vector<std::int64_t> seen;
  const auto attend = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
    seen.push_back(q.size(0) * q.size(1));
    return latentcast::math_attention(q, k, v);
  };
  const torch::Tensor q = x.q.detach().requires_grad_(true);
  const torch::Tensor out = latentcast::in_batch_slices(q, x.k, x.v, 6, "test attention", attend);
  EXPECT((seen == std::vector<std::int64_t>{6, 6, 2}));
  const torch::Tensor whole = latentcast::math_attention(x.q, x.k, x.v);
  EXPECT(torch::allclose(out, whole, 0, 1e-12));
  out.sum().backward();
  const torch::Tensor q2 = x.q.detach().requires_grad_(true);
  latentcast::math_attention(q2, x.k, x.v).sum().backward();
  EXPECT(torch::allclose(q.grad(), q2.grad(), 0, 1e-12));

  seen.clear();  // the whole batch fits: one call, no copies
  latentcast::in_batch_slices(x.q, x.k, x.v, 14, "test attention", attend);
  EXPECT((seen == std::vector<std::int64_t>{14}));

  EXPECT_THROWS_WITH(latentcast::in_batch_slices(x.q, x.k, x.v, 1, "test attention", attend),
                     c10::Error, "test attention: at most 1 heads, got 2");
}

LCTEST_MAIN
