// Our CUDA flash kernel (label gpu; skipped without CUDA): forward and gradients against the
// float32 math reference, the error at most 2x that of math computed in the same 16-bit type (the
// flash-attention test rule), over odd shapes (N = 1, 17, 1000, 4097; batch x heads = 1 and 96) and
// every head dim; float32 inputs through bf16; strided inputs; refusals. `test_flash_gpu sanitize`
// runs only the small case that the compute-sanitizer tests use.
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "model/attention/attention.h"
#include "model/attention/availability.h"
#include "model/device.h"
#include "tests/support/check.h"

using namespace latentcast;

namespace {

using Fn =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

struct Grads {
  torch::Tensor out, dq, dk, dv;  // in float32
};

Grads run(const Fn& fn, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
          const torch::Tensor& dout) {
  const torch::Tensor qd = q.detach().requires_grad_(), kd = k.detach().requires_grad_(),
                      vd = v.detach().requires_grad_();
  const torch::Tensor out = fn(qd, kd, vd);
  const auto g = torch::autograd::grad({out}, {qd, kd, vd}, {dout.to(out.scalar_type())});
  return {out.detach().to(torch::kFloat32), g[0].to(torch::kFloat32), g[1].to(torch::kFloat32),
          g[2].to(torch::kFloat32)};
}

double max_err(const torch::Tensor& a, const torch::Tensor& ref) {
  return (a - ref).abs().max().item<double>();
}

// Ours against the float32 reference, beside math in the same 16-bit type; prints each part's
// errors and records a failure where ours exceeds 2x math's (plus a float32 rounding allowance for
// parts whose exact value is 0, such as the gradients at N = 1).
void check_against_math(std::int64_t B, std::int64_t H, std::int64_t Nq, std::int64_t Nk,
                        std::int64_t d, torch::Dtype dtype, std::uint64_t seed = 0) {
  torch::manual_seed(seed + Nq * 131 + Nk * 7 + d + B * H);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
  const torch::Tensor q = torch::randn({B, H, Nq, d}, opts), k = torch::randn({B, H, Nk, d}, opts),
                      v = torch::randn({B, H, Nk, d}, opts),
                      dout = torch::randn({B, H, Nq, d}, opts);
  const auto f32 = [](const torch::Tensor& x) { return x.to(torch::kFloat32); };
  const Grads ref = run(math_attention, f32(q), f32(k), f32(v), f32(dout));
  // Math in the type the kernel computes in (bf16 for float32 inputs).
  const auto low_type = dtype == torch::kFloat16 ? torch::kFloat16 : torch::kBFloat16;
  const Grads low =
      run(math_attention, q.to(low_type), k.to(low_type), v.to(low_type), dout.to(low_type));
  const Grads ours = run(flash_attention_cuda, q, k, v, dout);
  const char* names[] = {"out", "dq", "dk", "dv"};
  const torch::Tensor r[] = {ref.out, ref.dq, ref.dk, ref.dv};
  const torch::Tensor l[] = {low.out, low.dq, low.dk, low.dv};
  const torch::Tensor o[] = {ours.out, ours.dq, ours.dk, ours.dv};
  for (int i = 0; i < 4; ++i) {
    const double e_ours = max_err(o[i], r[i]), e_math = max_err(l[i], r[i]);
    const double bound = 2 * e_math + 2e-5 * (1 + r[i].abs().max().item<double>());
    std::fprintf(stderr, "    (%lld,%lld,%lld,%lld,%lld) %s %-3s ours %.3e math16 %.3e %s\n",
                 (long long)B, (long long)H, (long long)Nq, (long long)Nk, (long long)d,
                 std::string(c10::toString(dtype)).c_str(), names[i], e_ours, e_math,
                 e_ours <= bound ? "ok" : "FAIL");
    if (!(e_ours <= bound))
      lctest::report(__FILE__, __LINE__,
                     std::string(names[i]) + ": error " + std::to_string(e_ours) +
                         " > 2 x math's " + std::to_string(e_math) +
                         " at N = " + std::to_string(Nq) + ", d = " + std::to_string(d));
  }
}

}  // namespace

TEST_CASE("sanitize: a small forward and backward with tails in N and d") {
  check_against_math(1, 2, 77, 77, 40, torch::kBFloat16);
  check_against_math(1, 1, 130, 70, 64, torch::kFloat16);
  check_against_math(1, 2, 150, 99, 80, torch::kBFloat16);  // head dim 128 (wgmma on sm_90)
}

TEST_CASE("forward and gradients within 2x of math's 16-bit error, batch x heads = 1") {
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16})
    for (const std::int64_t n : {1, 17, 1000, 4097})
      for (const std::int64_t d : {32, 40, 64, 80, 128}) check_against_math(1, 1, n, n, d, dtype);
}

TEST_CASE("forward and gradients within 2x of math's 16-bit error, batch x heads = 96") {
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16})
    for (const std::int64_t n : {1, 17, 1000, 4097})
      for (const std::int64_t d : {32, 64, 128}) check_against_math(4, 24, n, n, d, dtype);
}

TEST_CASE("batch x heads beyond one launch's grid (65535) run in batch slices") {
  check_against_math(1100, 60, 16, 16, 64, torch::kBFloat16);  // 66000 heads in all
}

TEST_CASE("cross-attention shapes: queries and keys of different lengths") {
  check_against_math(2, 3, 300, 77, 64, torch::kBFloat16);
  check_against_math(2, 3, 5, 1000, 32, torch::kBFloat16);
}

TEST_CASE("float32 inputs compute in bf16 and come back as float32") {
  const auto opts = torch::TensorOptions().device(torch::kCUDA);
  const torch::Tensor q = torch::randn({2, 2, 100, 64}, opts);
  const torch::Tensor out = flash_attention_cuda(q, q, q);
  EXPECT(out.scalar_type() == torch::kFloat32);
  check_against_math(2, 4, 1000, 1000, 64, torch::kFloat32);
}

TEST_CASE("strided inputs (heads interleaved with tokens) give the contiguous result") {
  torch::manual_seed(3);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const torch::Tensor x = torch::randn({2, 333, 4, 64}, opts);  // [B, N, heads, d]
  const torch::Tensor q = x.transpose(1, 2);                    // [B, heads, N, d], strided
  EXPECT(!q.is_contiguous());
  const torch::Tensor a = flash_attention_cuda(q, q, q),
                      b = flash_attention_cuda(q.contiguous(), q.contiguous(), q.contiguous());
  EXPECT(torch::equal(a, b));
}

TEST_CASE("the flash backend runs on CUDA through attention() and says it is available") {
  const Availability a = backend_availability(AttentionBackend::Flash, detect_devices(), true, 64);
  EXPECT(a.available);
  EXPECT_EQ(a.reason, std::string());
  AttentionSettings s;
  s.backend = AttentionBackend::Flash;
  torch::manual_seed(9);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const torch::Tensor q = torch::randn({1, 2, 50, 32}, opts);
  EXPECT(torch::equal(attention(q, q, q, s), flash_attention_cuda(q, q, q)));
}

TEST_CASE("head dims the kernel does not take are refused with the availability reason") {
  const Availability a = backend_availability(AttentionBackend::Flash, detect_devices(), true, 36);
  EXPECT(!a.available);
  EXPECT(a.reason.find("multiples of 8 up to 128") != std::string::npos);
  const torch::Tensor x = torch::randn({1, 1, 16, 36}, torch::TensorOptions().device(torch::kCUDA));
  AttentionSettings s;
  s.backend = AttentionBackend::Flash;
  EXPECT_THROWS_WITH(attention(x, x, x, s), std::invalid_argument, a.reason.c_str());
  EXPECT(!backend_availability(AttentionBackend::Flash, detect_devices(), true, 256).available);
}

int main(int argc, char** argv) {
  if (!detect_devices().cuda_available) {
    std::fprintf(stderr, "skipped: %s\n", detect_devices().reason.c_str());
    return 77;
  }
  return lctest::run_all(argc, argv);
}
