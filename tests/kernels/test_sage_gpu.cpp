// Our CUDA sage kernels (label gpu; skipped without CUDA). The quantisation pass against the CPU
// reference's quantisation (the same INT8 values and block scales); the output against the float32
// math reference, cosine similarity >= 0.999 and relative L1 <= 0.03 (the bar) on random
// inputs and on q, k, v taken from a UNet forward, at the benchmark shapes, and with a large shared
// offset in K (what smoothing is for); the output against the
// CPU sage reference (the same scheme: their difference is the 16-bit P.V, bounded like flash's by
// 2x math's 16-bit error, plus an allowance for rounding ties); gradients against math's (cosine
// >= 0.995, relative L1 <= 0.08: the INT8 forward's error reaches them through O and the
// log-sum-exp); odd shapes, float32 and strided inputs, dispatch and refusals. `test_sage_gpu
// sanitize` runs only the small case that the compute-sanitizer tests use.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/attention/attention.h"
#include "model/attention/availability.h"
#include "model/device.h"
#include "model/nn/unet.h"
#include "tests/support/check.h"

using namespace latentcast;

namespace {

using Fn =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

struct Grads {
  torch::Tensor out, dq, dk, dv;  // in float32
};

Grads run(const Fn& fn, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
          const torch::Tensor& dout, bool backward = true) {
  const torch::Tensor qd = q.detach().requires_grad_(backward),
                      kd = k.detach().requires_grad_(backward),
                      vd = v.detach().requires_grad_(backward);
  const torch::Tensor out = fn(qd, kd, vd);
  if (!backward) return {out.detach().to(torch::kFloat32), {}, {}, {}};
  const auto g = torch::autograd::grad({out}, {qd, kd, vd}, {dout.to(out.scalar_type())});
  return {out.detach().to(torch::kFloat32), g[0].to(torch::kFloat32), g[1].to(torch::kFloat32),
          g[2].to(torch::kFloat32)};
}

double cosine(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.to(torch::kFloat64).flatten(), y = b.to(torch::kFloat64).flatten();
  const double nx = x.norm().item<double>(), ny = y.norm().item<double>();
  if (nx == 0 && ny == 0) return 1.0;
  return (x.dot(y) / (x.norm() * y.norm())).item<double>();
}

double rel_l1(const torch::Tensor& a, const torch::Tensor& ref) {
  const double den = ref.to(torch::kFloat64).abs().sum().item<double>();
  const double num = (a.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().sum().item<double>();
  return den == 0 ? num : num / den;
}

std::string shape_text(const torch::Tensor& q, const torch::Tensor& k) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "(%lld,%lld,%lld,%lld,%lld) %s", (long long)q.size(0),
                (long long)q.size(1), (long long)q.size(2), (long long)k.size(2),
                (long long)q.size(3), std::string(c10::toString(q.scalar_type())).c_str());
  return buf;
}

// Sage against the float32 math reference: the output within the bar, the gradients
// within theirs; prints every number (the report's table reads them).
void check_accuracy(const std::string& what, const torch::Tensor& q, const torch::Tensor& k,
                    const torch::Tensor& v, bool backward = true, std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  const torch::Tensor dout = torch::randn_like(q);
  const auto f32 = [](const torch::Tensor& x) { return x.to(torch::kFloat32); };
  const bool big = q.size(0) * q.size(1) * q.size(2) * k.size(2) > (std::int64_t(1) << 30);
  const Fn reference =
      big ? Fn([](const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
        return sliced_attention(a, b, c, 2048);
      })
          : Fn(math_attention);
  const Grads ref = run(reference, f32(q), f32(k), f32(v), f32(dout), backward);
  const Grads ours = run(sage_attention_cuda, q, k, v, dout, backward);
  const char* names[] = {"out", "dq", "dk", "dv"};
  const torch::Tensor r[] = {ref.out, ref.dq, ref.dk, ref.dv};
  const torch::Tensor o[] = {ours.out, ours.dq, ours.dk, ours.dv};
  for (int i = 0; i < (backward ? 4 : 1); ++i) {
    const double cs = cosine(o[i], r[i]), l1 = rel_l1(o[i], r[i]);
    const double min_cos = i == 0 ? 0.999 : 0.995, max_l1 = i == 0 ? 0.03 : 0.08;
    // A part whose exact value is 0 (dQ and dK with one key) has no direction: there the errors
    // must be float rounding.
    const double scale = r[i].abs().max().item<double>();
    const bool zero = scale < 1e-6;
    const bool ok =
        zero ? (o[i] - r[i]).abs().max().item<double>() <= 1e-3 : cs >= min_cos && l1 <= max_l1;
    std::fprintf(stderr, "    %-8s %s %-3s cos %.6f rel_l1 %.3e %s\n", what.c_str(),
                 shape_text(q, k).c_str(), names[i], cs, l1, ok ? "ok" : "FAIL");
    if (!ok)
      lctest::report(__FILE__, __LINE__,
                     what + " " + shape_text(q, k) + " " + names[i] + ": cosine " +
                         std::to_string(cs) + " (>= " + std::to_string(min_cos) + "), rel L1 " +
                         std::to_string(l1) + " (<= " + std::to_string(max_l1) + ")");
  }
}

void check_random(std::int64_t B, std::int64_t H, std::int64_t Nq, std::int64_t Nk, std::int64_t d,
                  torch::Dtype dtype, bool backward = true) {
  torch::manual_seed(B * 1000003 + H * 1009 + Nq * 31 + Nk * 7 + d);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
  check_accuracy("random", torch::randn({B, H, Nq, d}, opts), torch::randn({B, H, Nk, d}, opts),
                 torch::randn({B, H, Nk, d}, opts), backward);
}

// q, k, v of the first self-attention of a UNet forward (random weights, random latents and
// timesteps) whose level-0 feature map has N = side^2 tokens of heads x d channels.
std::vector<torch::Tensor> unet_activations(std::int64_t B, std::int64_t H, std::int64_t N,
                                            std::int64_t d) {
  const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(double(N))));
  EXPECT_EQ(side * side, N);
  torch::manual_seed(N + d);
  nn::UnetOptions o;
  o.channels = {H * d, H * d};
  o.attention_levels = {0};
  o.heads = H;
  o.cond_channels = 0;
  o.dropout = 0.0;
  o.attention.backend = AttentionBackend::Math;
  nn::Unet unet(o);
  unet->to(torch::kCUDA);
  unet->eval();
  std::vector<torch::Tensor> qkv;
  set_attention_observer(
      [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
        if (qkv.empty() && q.size(2) == N && q.size(3) == d && k.size(2) == N)
          qkv = {q.detach().clone(), k.detach().clone(), v.detach().clone()};
      });
  const auto cuda = torch::TensorOptions().device(torch::kCUDA);
  {
    const torch::NoGradGuard no_grad;
    unet->forward(torch::randn({B, 4, side, side}, cuda), torch::randint(0, 1000, {B}, cuda), {},
                  {});
  }
  set_attention_observer({});
  EXPECT(qkv.size() == 3);
  return qkv;
}

}  // namespace

TEST_CASE("sanitize: a small forward and backward with tails in N and d") {
  check_random(1, 2, 77, 77, 40, torch::kBFloat16);
  check_random(1, 1, 130, 70, 64, torch::kFloat16);
  check_random(1, 2, 150, 99, 80, torch::kBFloat16);
}

TEST_CASE("the quantisation pass gives the CPU reference's INT8 values, scales and K mean") {
  // 150 keys: one CTA of the K mean kernel; 1300: several, the last one short.
  for (const auto& shape : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {32, 150}, {40, 150}, {64, 150}, {128, 150}, {64, 1300}, {128, 1300}}) {
    const std::int64_t d = shape.first, n_k = shape.second;
    torch::manual_seed(d + n_k);
    const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
    // A per-channel offset in K, as real keys have: smoothing is what keeps it out of the range.
    const torch::Tensor q = torch::randn({2, 3, 200, d}, opts);
    const torch::Tensor k =
        (torch::randn({2, 3, n_k, d}, opts) + 3 * torch::randn({1, 1, 1, d}, opts))
            .to(torch::kBFloat16);
    const SageQuantized got = sage_quantize_cuda(q, k);
    const double scale = 1.0 / std::sqrt(double(d)), log2e = 1.4426950408889634;
    const torch::Tensor qf = q.cpu().to(torch::kFloat32), kf = k.cpu().to(torch::kFloat32);
    const torch::Tensor mean = kf.mean(2, /*keepdim=*/true);
    const torch::Tensor qx = qf * (scale * log2e), kx = kf - mean;
    const Int8Blocks rq = quantize_int8_blocks(qx, 64);
    const Int8Blocks rk = quantize_int8_blocks(kx, 64);
    const std::int64_t dp = got.q8.size(3);
    EXPECT(dp >= d && dp % 32 == 0);
    const torch::Tensor q8 = got.q8.cpu(), k8 = got.k8.cpu();
    EXPECT(torch::equal(q8.slice(3, d), torch::zeros_like(q8.slice(3, d))));  // padding
    EXPECT(torch::equal(k8.slice(3, d), torch::zeros_like(k8.slice(3, d))));
    // The kernel multiplies by 1 / scale where the reference divides, and its inputs differ from
    // the reference's in the last bits (the product of softmax_scale and log2(e) in float32, K's
    // mean summed in another order), so a value may round the other way where x / scale lies
    // within float rounding of a .5 tie, and only there. 16-bit inputs make exact ties common: in
    // a block whose largest |q| has the mantissa 254 = 2 * 127, 127 q_i / max|q| is a multiple of
    // 0.5 for every q_i of that exponent or above, so how many values differ depends on the data.
    const auto compare = [&](const char* name, const torch::Tensor& a, const Int8Blocks& ref,
                             const torch::Tensor& x) {
      const torch::Tensor diff =
          (a.slice(3, 0, d).to(torch::kInt32) - ref.values.to(torch::kInt32)).abs();
      const torch::Tensor ratio =
          x / ref.scales.repeat_interleave(64, 2).slice(2, 0, x.size(2)).unsqueeze(-1);
      const torch::Tensor near_tie = (ratio.abs().frac() - 0.5).abs() < 1e-3;
      const std::int64_t off = diff.gt(0).sum().item<std::int64_t>();
      const std::int64_t off_tie =
          diff.gt(0).logical_and(near_tie.logical_not()).sum().item<std::int64_t>();
      const int worst = diff.max().item<int>();
      std::fprintf(stderr,
                   "    d %lld %s: %lld of %lld values differ (%lld away from a .5 tie), by at "
                   "most %d\n",
                   (long long)d, name, (long long)off, (long long)diff.numel(), (long long)off_tie,
                   worst);
      EXPECT(worst <= 1);
      EXPECT(off_tie == 0);
    };
    compare("q8", q8, rq, qx);
    compare("k8", k8, rk, kx);
    EXPECT(torch::allclose(got.q_scales.cpu(), rq.scales, 1e-5, 0));
    EXPECT(torch::allclose(got.k_scales.cpu(), rk.scales, 1e-4, 1e-6));
    EXPECT(torch::allclose(got.k_mean.cpu(), mean.squeeze(2), 1e-5, 1e-5));
  }
}

TEST_CASE("the CUDA kernel computes the CPU reference's scheme: within the 16-bit P.V error") {
  for (const std::int64_t d : {32, 64, 80}) {
    torch::manual_seed(100 + d);
    const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
    const torch::Tensor q = torch::randn({2, 2, 300, d}, opts),
                        k = torch::randn({2, 2, 260, d}, opts),
                        v = torch::randn({2, 2, 260, d}, opts);
    const auto cpu32 = [](const torch::Tensor& x) { return x.cpu().to(torch::kFloat32); };
    const torch::Tensor ours = sage_attention_cuda(q, k, v).cpu().to(torch::kFloat32);
    const torch::Tensor cpu_sage = sage_attention_cpu(cpu32(q), cpu32(k), cpu32(v));
    const torch::Tensor math32 = math_attention(cpu32(q), cpu32(k), cpu32(v));
    const torch::Tensor math16 = math_attention(q, k, v).cpu().to(torch::kFloat32);
    const double e = rel_l1(ours, cpu_sage), e16 = rel_l1(math16, math32),
                 e_sage = rel_l1(cpu_sage, math32);
    std::fprintf(stderr,
                 "    d %lld: rel L1 CUDA sage vs CPU sage %.3e; bf16 math vs fp32 math %.3e; CPU "
                 "sage vs fp32 math %.3e\n",
                 (long long)d, e, e16, e_sage);
    EXPECT(e <= 2 * e16 + 1e-3);
    EXPECT(e < e_sage);  // nearer its own scheme than sage is to exact attention
  }
}

TEST_CASE("accuracy at the benchmark shapes, random inputs: output and gradients") {
  check_random(4, 8, 4096, 4096, 64, torch::kBFloat16);
  check_random(1, 8, 16384, 16384, 64, torch::kBFloat16);
  check_random(4, 8, 4096, 4096, 32, torch::kBFloat16);
  check_random(16, 4, 784, 784, 32, torch::kBFloat16);
  check_random(2, 8, 3136, 3136, 64, torch::kBFloat16);
}

TEST_CASE("accuracy at the benchmark shapes, q, k, v from a UNet forward") {
  for (const auto& s : std::vector<std::vector<std::int64_t>>{{4, 8, 4096, 64},
                                                              {1, 8, 16384, 64},
                                                              {4, 8, 4096, 32},
                                                              {16, 4, 784, 32},
                                                              {2, 8, 3136, 64}}) {
    const auto qkv = unet_activations(s[0], s[1], s[2], s[3]);
    const auto bf = [](const torch::Tensor& x) { return x.to(torch::kBFloat16); };
    check_accuracy("unet", bf(qkv[0]), bf(qkv[1]), bf(qkv[2]), /*backward=*/true);
  }
}

TEST_CASE("odd shapes: N = 1, 17, 1000, 4097, every head dim, bf16 and fp16, cross-attention") {
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16})
    for (const std::int64_t n : {1, 17, 1000, 4097})
      for (const std::int64_t d : {8, 32, 40, 64, 80, 128}) check_random(1, 3, n, n, d, dtype);
  check_random(2, 3, 300, 77, 64, torch::kBFloat16);
  check_random(2, 3, 5, 1000, 32, torch::kBFloat16);
  check_random(4, 24, 1000, 1000, 64, torch::kFloat16);
}

TEST_CASE("batch x heads beyond one launch's grid (65535) run in batch slices") {
  check_random(1100, 60, 16, 16, 64, torch::kBFloat16);  // 66000 heads in all
}

TEST_CASE("float32 inputs compute in bf16 and come back as float32; strided inputs") {
  const auto opts = torch::TensorOptions().device(torch::kCUDA);
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({2, 2, 100, 64}, opts);
  EXPECT(sage_attention_cuda(q, q, q).scalar_type() == torch::kFloat32);
  check_random(2, 4, 1000, 1000, 64, torch::kFloat32);
  const torch::Tensor x =
      torch::randn({2, 333, 4, 64}, opts.dtype(torch::kBFloat16));  // [B, N, heads, d]
  const torch::Tensor s = x.transpose(1, 2);                        // [B, heads, N, d], strided
  EXPECT(!s.is_contiguous());
  EXPECT(torch::equal(sage_attention_cuda(s, s, s),
                      sage_attention_cuda(s.contiguous(), s.contiguous(), s.contiguous())));
}

TEST_CASE("smoothing: a large shared offset in K changes nothing but the quantisation range") {
  torch::manual_seed(11);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const torch::Tensor q = torch::randn({1, 2, 500, 64}, opts),
                      v = torch::randn({1, 2, 500, 64}, opts);
  const torch::Tensor k = torch::randn({1, 2, 500, 64}, opts);
  const torch::Tensor shifted = (k + 20 * torch::randn({1, 2, 1, 64}, opts)).to(torch::kBFloat16);
  // Exact attention ignores the offset (a per-row shift of the scores); so must sage, where a
  // per-block quantisation of the unsmoothed K would lose the keys' differences to the offset.
  check_accuracy("offset", q, shifted, v);
}

TEST_CASE("the sage backend runs on CUDA through attention() and says it is available") {
  const Availability a = backend_availability(AttentionBackend::Sage, detect_devices(), true, 64);
  EXPECT(a.available);
  EXPECT_EQ(a.reason, std::string());
  AttentionSettings s;
  s.backend = AttentionBackend::Sage;
  torch::manual_seed(9);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const torch::Tensor q = torch::randn({1, 2, 50, 32}, opts);
  EXPECT(torch::equal(attention(q, q, q, s), sage_attention_cuda(q, q, q)));
}

TEST_CASE("head dims the kernel does not take are refused with the availability reason") {
  const Availability a = backend_availability(AttentionBackend::Sage, detect_devices(), true, 36);
  EXPECT(!a.available);
  EXPECT(a.reason.find("multiples of 8 up to 128") != std::string::npos);
  const torch::Tensor x = torch::randn({1, 1, 16, 36}, torch::TensorOptions().device(torch::kCUDA));
  AttentionSettings s;
  s.backend = AttentionBackend::Sage;
  EXPECT_THROWS_WITH(attention(x, x, x, s), std::invalid_argument, a.reason.c_str());
  EXPECT(!backend_availability(AttentionBackend::Sage, detect_devices(), true, 256).available);
}

int main(int argc, char** argv) {
  if (!detect_devices().cuda_available) {
    std::fprintf(stderr, "skipped: %s\n", detect_devices().reason.c_str());
    return 77;
  }
  return lctest::run_all(argc, argv);
}
