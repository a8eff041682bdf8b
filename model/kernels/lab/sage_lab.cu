// Kernel lab (not part of the CMake build; model/kernels/lab/run builds and runs it on an sm_90
// GPU): the warp-specialised sage forward against the mma.sync sage forward on the same quantised
// inputs, and CUDA-event timings with and without the quantisation pass. Modes: check, bench, all.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "model/kernels/lab/lab_common.cuh"
#include "model/kernels/sage/sage.h"
#include "model/kernels/sage/sage_fwd_ws_kernel.cuh"
#include "model/kernels/sage/sage_launch.h"

using namespace latentcast::kernels;
using bf16 = __nv_bfloat16;

struct Prob {
  int B, H, N, d, dp;  // dp: the INT8 rows' width (sage::padded_head_dim, or 64 as on Hopper)
  bf16 *q, *k, *v, *o;
  float *lse, *k_mean, *qs, *ks;
  std::int8_t *q8, *k8;
  sage::SageQuantParams qp;
  sage::SageFwdParams fp;
};

static Prob make(int B, int H, int N, int d, float k_offset, int row_dim = 0) {
  Prob pr{B, H, N, d, row_dim > 0 ? row_dim : sage::padded_head_dim(d)};
  const size_t n = size_t(B) * H * N * d;
  std::mt19937 rng(11 + N);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<bf16> buf(n);
  auto fill = [&](bf16** dev, float off) {
    for (auto& x : buf) x = __float2bfloat16(nd(rng) + off);
    CK(cudaMalloc(dev, n * 2));
    CK(cudaMemcpy(*dev, buf.data(), n * 2, cudaMemcpyHostToDevice));
  };
  fill(&pr.q, 0.f);
  fill(&pr.k, k_offset);
  fill(&pr.v, 0.f);
  CK(cudaMalloc(&pr.o, n * 2));
  CK(cudaMalloc(&pr.lse, size_t(B) * H * N * 4));
  const int dp = pr.dp, nb = (N + 63) / 64;
  CK(cudaMalloc(&pr.k_mean, size_t(B) * H * d * 4));
  CK(cudaMalloc(&pr.q8, size_t(B) * H * N * dp));
  CK(cudaMalloc(&pr.k8, size_t(B) * H * N * dp));
  CK(cudaMalloc(&pr.qs, size_t(B) * H * nb * 4));
  CK(cudaMalloc(&pr.ks, size_t(B) * H * nb * 4));
  auto& q = pr.qp;
  q.q = pr.q, q.k = pr.k;
  q.q_row_stride = q.k_row_stride = d;
  q.q_head_stride = q.k_head_stride = std::int64_t(N) * d;
  q.q_batch_stride = q.k_batch_stride = std::int64_t(H) * N * d;
  q.batch = B, q.heads = H, q.n_q = N, q.n_k = N, q.d = d;
  q.softmax_scale = 1.f / std::sqrt(float(d));
  q.k_mean = pr.k_mean, q.q8 = pr.q8, q.k8 = pr.k8, q.q_scales = pr.qs, q.k_scales = pr.ks;
  auto& f = pr.fp;
  f.q8 = pr.q8, f.k8 = pr.k8, f.q_scales = pr.qs, f.k_scales = pr.ks, f.v = pr.v, f.o = pr.o;
  f.lse = pr.lse;
  f.v_row_stride = f.o_row_stride = d;
  f.v_head_stride = f.o_head_stride = std::int64_t(N) * d;
  f.v_batch_stride = f.o_batch_stride = std::int64_t(H) * N * d;
  f.batch = B, f.heads = H, f.n_q = N, f.n_k = N, f.d = d;
  return pr;
}
static void release(Prob& p) {
  for (void* x : {(void*)p.q, (void*)p.k, (void*)p.v, (void*)p.o, (void*)p.lse, (void*)p.k_mean,
                  (void*)p.q8, (void*)p.k8, (void*)p.qs, (void*)p.ks})
    cudaFree(x);
}

// The warp-specialised kernel's tile and exp2 variants (SageWsTraits): the dispatched one first.
struct Variant {
  const char* name;
  cudaError_t (*run)(const sage::SageFwdParams&);
};
template <class Traits>
static cudaError_t ws_variant(const sage::SageFwdParams& p) {
  return sage::launch_fwd_ws<Traits, bf16>(p, nullptr);
}
// <stages, kBlockN, consumers, lazy rescale, row sums on the tensor cores, persistent>
static const Variant kVariants[] = {
    {"ws",
     [](const sage::SageFwdParams& p) { return sage::run_fwd_ws_hdim<64, bf16>(p, nullptr); }},
    {"n128c3s2 (w1)", ws_variant<sage::SageWsTraits<2, 128, 3, false, false>>},
    {"n128c3s2R", ws_variant<sage::SageWsTraits<2, 128, 3, false, true>>},
    {"n64c4s3", ws_variant<sage::SageWsTraits<3, 64, 4, false, false>>},
    {"n64c4s3R", ws_variant<sage::SageWsTraits<3, 64, 4, false, true>>},
    {"n64c4s4LR", ws_variant<sage::SageWsTraits<4, 64, 4, true, true>>},
    {"n64c4s3LR (w3)", ws_variant<sage::SageWsTraits<3, 64, 4, true, true>>},
    {"n64c4s3LRP", ws_variant<sage::SageWsTraits<3, 64, 4, true, true, true>>},
    {"n64c4s4LRP", ws_variant<sage::SageWsTraits<4, 64, 4, true, true, true>>},
    {"n64c4s3RP", ws_variant<sage::SageWsTraits<3, 64, 4, false, true, true>>},
    {"n128c3s2LR", ws_variant<sage::SageWsTraits<2, 128, 3, true, true>>},
    {"ws32",
     [](const sage::SageFwdParams& p) { return sage::run_fwd_ws_hdim<32, bf16>(p, nullptr); }},
};
static cudaError_t mma(const sage::SageFwdParams& p) {
  return sage::run_fwd(p, sage::Dtype::BFloat16, nullptr).empty() ? cudaSuccess : cudaErrorUnknown;
}
// The mma.sync kernel and the quantisation passes on INT8 rows of dp columns.
static cudaError_t mma_dp(const Prob& pr) {
  return pr.dp == 64 ? sage::run_fwd_hdim<64, bf16>(pr.fp, nullptr) : mma(pr.fp);
}
static cudaError_t quant_dp(const Prob& pr) {
  switch (pr.dp) {
    case 32:
      return sage::run_quant_hdim<32, bf16>(pr.qp, nullptr);
    case 64:
      return sage::run_quant_hdim<64, bf16>(pr.qp, nullptr);
    case 128:
      return sage::run_quant_hdim<128, bf16>(pr.qp, nullptr);
  }
  return cudaErrorInvalidValue;
}

// The clusters' quantisation pass (sage_quant_cluster_kernel.cuh) by head dim, bf16.
static cudaError_t quant_cluster(const sage::SageQuantParams& p, int dp) {
  switch (dp) {
    case 32:
      return sage::run_quant_cluster_hdim<32, bf16>(p, nullptr);
    case 64:
      return sage::run_quant_cluster_hdim<64, bf16>(p, nullptr);
    case 128:
      return sage::run_quant_cluster_hdim<128, bf16>(p, nullptr);
  }
  return cudaErrorInvalidValue;
}

// The clusters' pass against the portable one on the same inputs: Q's INT8 values and scales the
// same bits (same arithmetic), K's mean within float rounding (summed in another order), K's
// values apart by at most 1 and only in a few places (a different mean moves values off .5 ties),
// and the clusters' pass the same bits on a second run (no atomics).
static bool check_quant(int B, int H, int N, int d, float off) {
  Prob pr = make(B, H, N, d, off);
  const int dp = sage::padded_head_dim(d), nb = (N + 63) / 64;
  const size_t n8 = size_t(B) * H * N * dp, ns = size_t(B) * H * nb, nm = size_t(B) * H * d;
  auto fetch8 = [](const std::int8_t* p, size_t n) {
    std::vector<std::int8_t> out(n);
    CK(cudaMemcpy(out.data(), p, n, cudaMemcpyDeviceToHost));
    return out;
  };
  if (!sage::run_quant(pr.qp, sage::Dtype::BFloat16, nullptr).empty()) std::exit(2);
  CK(cudaDeviceSynchronize());
  const auto q8 = fetch8(pr.q8, n8), k8 = fetch8(pr.k8, n8);
  const auto qs = fetch_f32(pr.qs, ns), ks = fetch_f32(pr.ks, ns), km = fetch_f32(pr.k_mean, nm);
  bool ok = true;
  for (int run = 0; run < 2; ++run) {
    for (void* x : {(void*)pr.q8, (void*)pr.k8}) CK(cudaMemset(x, 0x55, n8));
    for (void* x : {(void*)pr.qs, (void*)pr.ks}) CK(cudaMemset(x, 0xff, ns * 4));
    CK(cudaMemset(pr.k_mean, 0xff, nm * 4));
    CK(quant_cluster(pr.qp, pr.dp));
    CK(cudaDeviceSynchronize());
    const auto cq8 = fetch8(pr.q8, n8), ck8 = fetch8(pr.k8, n8);
    const auto cqs = fetch_f32(pr.qs, ns), cks = fetch_f32(pr.ks, ns);
    const auto ckm = fetch_f32(pr.k_mean, nm);
    size_t k_off = 0;
    int k_worst = 0;
    double mean_err = 0, kscale_err = 0;
    for (size_t i = 0; i < n8; ++i) {
      const int df = std::abs(int(ck8[i]) - int(k8[i]));
      k_off += df != 0;
      k_worst = std::max(k_worst, df);
    }
    for (size_t i = 0; i < nm; ++i)
      mean_err = std::max(mean_err, double(std::fabs(ckm[i] - km[i])) / (std::fabs(km[i]) + 1e-3));
    for (size_t i = 0; i < ns; ++i)
      kscale_err = std::max(kscale_err, double(std::fabs(cks[i] - ks[i])) / std::fabs(ks[i]));
    const bool q_same = cq8 == q8 && cqs == qs;
    const bool run_ok = q_same && k_worst <= 1 && k_off * 1000 <= n8 && mean_err < 1e-4 &&
                        kscale_err < 1e-4 && std::isfinite(mean_err) && std::isfinite(kscale_err);
    static std::vector<std::int8_t> first_k8;
    if (run == 0) first_k8 = ck8;
    const bool same_bits = run == 0 || ck8 == first_k8;
    std::printf(
        "  quant cluster run %d (%d,%d,%d,%d, k offset %.0f): Q %s, K values differing %zu of %zu "
        "(by <= %d), mean rel %.1e, K scale rel %.1e, %s  %s\n",
        run, B, H, N, d, off, q_same ? "same bits" : "DIFFERS", k_off, n8, k_worst, mean_err,
        kscale_err, same_bits ? "run-to-run same" : "RUN-TO-RUN DIFFERS",
        run_ok && same_bits ? "ok" : "FAIL");
    ok = ok && run_ok && same_bits;
  }
  release(pr);
  return ok;
}

static bool check(const Variant& var, int B, int H, int N, int d, float off, int dp = 0) {
  Prob pr = make(B, H, N, d, off, dp);
  CK(quant_dp(pr));
  const size_t n = size_t(B) * H * N * d;
  CK(mma_dp(pr));
  CK(cudaDeviceSynchronize());
  auto ro = fetch_bf16(pr.o, n);
  auto rl = fetch_f32(pr.lse, size_t(B) * H * N);
  CK(cudaMemset(pr.o, 0xff, n * 2));
  CK(cudaMemset(pr.lse, 0xff, size_t(B) * H * N * 4));
  cudaError_t st = var.run(pr.fp);
  if (st == cudaErrorNotSupported) {
    std::printf("  sage %s (%d,%d,%d,%d): not supported\n", var.name, B, H, N, d);
    release(pr);
    return true;
  }
  CK(st);
  CK(cudaDeviceSynchronize());
  auto oo = fetch_bf16(pr.o, n);
  auto ol = fetch_f32(pr.lse, size_t(B) * H * N);
  double e = 0, mx = 0, le = 0, l1 = 0, l1_ref = 0;
  for (size_t i = 0; i < n; ++i) {
    const double df = std::fabs(double(oo[i]) - ro[i]);
    e = std::isfinite(df) ? std::max(e, df) : 1e30;
    mx = std::max(mx, double(std::fabs(ro[i])));
    l1 += std::isfinite(df) ? df : 1e30;
    l1_ref += std::fabs(ro[i]);
  }
  for (size_t i = 0; i < ol.size(); ++i) {
    const double df = std::fabs(double(ol[i]) - rl[i]);
    le = std::isfinite(df) ? std::max(le, df) : 1e30;
  }
  const bool ok = e / mx < 2e-2 && le < 2e-3;
  std::printf(
      "  sage %s (%d,%d,%d,%d, k offset %.0f): max|dO|/max|O| %.2e  rel L1 %.2e  max|dLSE| %.2e  "
      "%s\n",
      var.name, B, H, N, d, off, e / mx, l1 / l1_ref, le, ok ? "ok" : "FAIL");
  release(pr);
  return ok;
}

static void bench(int B, int H, int N, int d) {
  Prob pr = make(B, H, N, d, 0.f);
  auto time = [&](const char* name, auto once) {
    const float ms = event_ms(5, 50, once);
    std::printf("  sage %-16s (%d,%d,%d,%d): %.3f ms  %.0f TFLOP/s\n", name, B, H, N, d, ms,
                4.0 * B * H * double(N) * N * d / ms / 1e9);
  };
  auto quant = [&] { sage::run_quant(pr.qp, sage::Dtype::BFloat16, nullptr); };
  time("quant alone", quant);
  time("quant cluster alone", [&] { quant_cluster(pr.qp, pr.dp); });
  time("quant+mma", [&] { quant(), mma(pr.fp); });
  time("qc+ws",
       [&] { quant_cluster(pr.qp, pr.dp), sage::run_fwd_ws_hdim<64, bf16>(pr.fp, nullptr); });
  for (const Variant& v : kVariants) {
    time((std::string("quant+") + v.name).c_str(), [&] { quant(), v.run(pr.fp); });
    time((std::string(v.name) + " alone").c_str(), [&] { v.run(pr.fp); });
  }
  release(pr);
}

// Head dim 32: the path before (32-byte INT8 rows, the portable pass and the mma.sync kernel)
// against the Hopper one (64-byte rows, the clusters' pass, ws32), and the head dim 64 kernel on
// the same padded rows.
static void bench32(int B, int H, int N, int d) {
  Prob p32 = make(B, H, N, d, 0.f, 32), p64 = make(B, H, N, d, 0.f, 64);
  auto time = [&](const char* name, auto once) {
    const float ms = event_ms(5, 50, once);
    std::printf("  sage %-16s (%d,%d,%d,%d): %.3f ms  %.0f TFLOP/s\n", name, B, H, N, d, ms,
                4.0 * B * H * double(N) * N * d / ms / 1e9);
  };
  time("quant32+mma32", [&] { quant_dp(p32), mma_dp(p32); });
  time("mma32 alone", [&] { mma_dp(p32); });
  time("qc64 alone", [&] { quant_cluster(p64.qp, 64); });
  time("qc64+ws32",
       [&] { quant_cluster(p64.qp, 64), sage::run_fwd_ws_hdim<32, bf16>(p64.fp, nullptr); });
  time("ws32 alone", [&] { sage::run_fwd_ws_hdim<32, bf16>(p64.fp, nullptr); });
  time("ws64 alone", [&] { sage::run_fwd_ws_hdim<64, bf16>(p64.fp, nullptr); });
  release(p32);
  release(p64);
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  bool ok = true;
  if (mode != "bench")
    for (auto s :
         std::vector<std::vector<int>>{{1, 1, 1, 64},
                                       {1, 2, 17, 64},
                                       {2, 3, 1000, 64},
                                       {1, 2, 4097, 64},
                                       {1, 1, 300, 40},
                                       {8, 8, 1000, 64}})  // 256 tiles: several a persistent CTA
      for (const Variant& v : kVariants)
        ok = check(v, s[0], s[1], s[2], s[3], s[2] == 1000 ? 8.f : 0.f) && ok;
  if (mode != "bench")  // head dims up to 32 on 64-byte INT8 rows, as on Hopper
    for (auto s : std::vector<std::vector<int>>{{1, 1, 1, 32},
                                                {1, 2, 17, 32},
                                                {2, 3, 1000, 32},
                                                {1, 2, 4097, 32},
                                                {1, 1, 300, 24},
                                                {8, 8, 1000, 32},
                                                {16, 4, 784, 32}})
      for (const Variant& v : kVariants)
        ok = check(v, s[0], s[1], s[2], s[3], s[2] == 1000 ? 8.f : 0.f, 64) && ok;
  if (mode != "bench")
    for (auto s : std::vector<std::vector<int>>{{1, 1, 1, 64},
                                                {1, 2, 17, 64},
                                                {2, 3, 1000, 64},
                                                {1, 2, 4097, 64},
                                                {1, 1, 300, 40},
                                                {2, 2, 333, 32},
                                                {1, 3, 700, 80},
                                                {2, 2, 1300, 128},
                                                {4, 8, 4096, 64},
                                                {1, 8, 16384, 64},
                                                {300, 1, 70, 64}})
      ok = check_quant(s[0], s[1], s[2], s[3], s[2] == 1000 || s[2] == 1300 ? 8.f : 0.f) && ok;
  if (mode != "check")
    for (auto s :
         std::vector<std::vector<int>>{{4, 8, 4096, 64}, {1, 8, 16384, 64}, {2, 8, 3136, 64}})
      bench(s[0], s[1], s[2], s[3]);
  if (mode != "check")
    for (auto s : std::vector<std::vector<int>>{{4, 8, 4096, 32}, {16, 4, 784, 32}})
      bench32(s[0], s[1], s[2], s[3]);
  std::printf(ok ? "SAGE OK\n" : "SAGE FAILED\n");
  return ok ? 0 : 1;
}
