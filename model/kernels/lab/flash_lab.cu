// Kernel lab (not part of the CMake build; model/kernels/lab/run builds and runs it on an sm_90
// GPU): the warp-specialised flash forward and backward against the mma.sync kernels and an fp32
// reference, and CUDA-event timings of their tile variants (the numbers in the kernels' version
// logs). Modes: check, bench, bwdcheck, bwdbench, bwdrace (small cases for racecheck), all.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "model/kernels/flash/flash_fwd_kernel.cuh"
#include "model/kernels/flash/flash_fwd_ws_kernel.cuh"
#include "model/kernels/lab/lab_common.cuh"

using namespace latentcast::kernels::flash;
using bf16 = __nv_bfloat16;

using Launch = cudaError_t (*)(const FlashFwdParams&, cudaStream_t);
struct Variant {
  const char* name;
  Launch fn;
  bool rowsum = false;  // row sums of the 16-bit P (tensor cores): LSE within 2^-9, not exact
};
static const Variant kVariants[] = {
    {"mma", &run_fwd_hdim<64, bf16>},
    {"ws n128 c3 s2", &launch_fwd_ws<WsFwdTraits<128, 3, 2>, bf16>},
    {"ws n128 c3 s3", &launch_fwd_ws<WsFwdTraits<128, 3, 3>, bf16>},
    {"ws n128 c3 s2 R", &launch_fwd_ws<WsFwdTraits<128, 3, 2, true>, bf16>, true},
    {"ws n64 c4 s3", &launch_fwd_ws<WsFwdTraits<64, 4, 3>, bf16>},
    {"ws n64 c4 s3 R", &launch_fwd_ws<WsFwdTraits<64, 4, 3, true>, bf16>, true},
    {"ws n64 c4 s4", &launch_fwd_ws<WsFwdTraits<64, 4, 4>, bf16>},
    {"ws n64 c4 s4 R", &launch_fwd_ws<WsFwdTraits<64, 4, 4, true>, bf16>, true},
    {"ws n128 c2 s2 R", &launch_fwd_ws<WsFwdTraits<128, 2, 2, true>, bf16>, true},
};

struct Problem {
  int B, H, N, d;
  bf16 *q, *k, *v, *o;
  float* lse;
  FlashFwdParams p;
  std::vector<float> hq, hk, hv;
};

static Problem make(int B, int H, int N, int d, unsigned seed) {
  Problem pr{B, H, N, d};
  const size_t n = size_t(B) * H * N * d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<bf16> buf(n);
  auto fill = [&](std::vector<float>& host, bf16** dev) {
    host.resize(n);
    for (size_t i = 0; i < n; ++i) {
      buf[i] = __float2bfloat16(nd(rng));
      host[i] = __bfloat162float(buf[i]);
    }
    CK(cudaMalloc(dev, n * 2));
    CK(cudaMemcpy(*dev, buf.data(), n * 2, cudaMemcpyHostToDevice));
  };
  fill(pr.hq, &pr.q);
  fill(pr.hk, &pr.k);
  fill(pr.hv, &pr.v);
  CK(cudaMalloc(&pr.o, n * 2));
  CK(cudaMalloc(&pr.lse, size_t(B) * H * N * 4));
  FlashFwdParams& p = pr.p;
  p.q = pr.q, p.k = pr.k, p.v = pr.v, p.o = pr.o, p.lse = pr.lse;
  const std::int64_t rs = d, hs = std::int64_t(N) * d, bs = std::int64_t(H) * N * d;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.o_row_stride = rs;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.o_head_stride = hs;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = p.o_batch_stride = bs;
  p.batch = B, p.heads = H, p.n_q = N, p.n_k = N, p.d = d;
  p.scale = 1.f / std::sqrt(float(d));
  return pr;
}

static void release(Problem& pr) {
  cudaFree(pr.q), cudaFree(pr.k), cudaFree(pr.v), cudaFree(pr.o), cudaFree(pr.lse);
}

static std::vector<float> fetch_o(const Problem& pr) {
  return fetch_bf16(pr.o, size_t(pr.B) * pr.H * pr.N * pr.d);
}
static std::vector<float> fetch_lse(const Problem& pr) {
  return fetch_f32(pr.lse, size_t(pr.B) * pr.H * pr.N);
}

// fp32 reference of one (b, h) slice's rows [0, rows).
static void reference(const Problem& pr, int bh, int rows, std::vector<float>& o,
                      std::vector<float>& lse) {
  const int N = pr.N, d = pr.d;
  const float* q = pr.hq.data() + size_t(bh) * N * d;
  const float* k = pr.hk.data() + size_t(bh) * N * d;
  const float* v = pr.hv.data() + size_t(bh) * N * d;
  o.assign(size_t(rows) * d, 0.f);
  lse.assign(rows, 0.f);
  std::vector<double> sc(N);
  for (int i = 0; i < rows; ++i) {
    double mx = -1e300;
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int c = 0; c < d; ++c) acc += double(q[i * d + c]) * k[j * d + c];
      sc[j] = acc * pr.p.scale;
      mx = std::max(mx, sc[j]);
    }
    double sum = 0;
    for (int j = 0; j < N; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
    for (int c = 0; c < d; ++c) {
      double acc = 0;
      for (int j = 0; j < N; ++j) acc += sc[j] * v[j * d + c];
      o[i * d + c] = float(acc / sum);
    }
    lse[i] = float(mx + std::log(sum));
  }
}

static bool check(const Variant& var, int B, int H, int N, int d) {
  Problem pr = make(B, H, N, d, 1234 + N);
  CK(cudaMemset(pr.o, 0xff, size_t(B) * H * N * d * 2));
  cudaError_t st = var.fn(pr.p, nullptr);
  if (st == cudaErrorNotSupported) {
    std::printf("  %-14s (%d,%d,%d,%d): not supported\n", var.name, B, H, N, d);
    release(pr);
    return true;
  }
  CK(st);
  CK(cudaDeviceSynchronize());
  auto o = fetch_o(pr);
  auto lse = fetch_lse(pr);
  double err = 0, lerr = 0;
  const int rows = std::min(N, 300);
  for (int bh : {0, B * H - 1}) {
    std::vector<float> ro, rl;
    reference(pr, bh, rows, ro, rl);
    for (int i = 0; i < rows; ++i) {
      for (int c = 0; c < d; ++c)
        err = std::max(err, double(std::fabs(o[(size_t(bh) * N + i) * d + c] - ro[i * d + c])));
      lerr = std::max(lerr, double(std::fabs(lse[size_t(bh) * N + i] - rl[i])));
    }
  }
  // The row sums of bf16-rounded P differ from the fp32 ones by up to 2^-9 relative.
  const bool ok = err < 2e-2 && lerr < (var.rowsum ? 2e-3 : 1e-3) && std::isfinite(err);
  std::printf("  %-14s (%d,%d,%d,%d): max|dO| %.2e  max|dLSE| %.2e  %s\n", var.name, B, H, N, d,
              err, lerr, ok ? "ok" : "FAIL");
  release(pr);
  return ok;
}

static void bench(const Variant& var, int B, int H, int N, int d) {
  Problem pr = make(B, H, N, d, 7);
  if (var.fn(pr.p, nullptr) == cudaErrorNotSupported) return;
  const float ms = event_ms(5, 50, [&] { CK(var.fn(pr.p, nullptr)); });
  const double flops = 4.0 * B * H * double(N) * N * d;
  std::printf("  %-14s (%d,%d,%d,%d): %.3f ms  %.0f TFLOP/s\n", var.name, B, H, N, d, ms,
              flops / ms / 1e9);
  release(pr);
}

int bwd_main(const std::string& mode);
int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  if (mode.rfind("bwd", 0) == 0) return bwd_main(mode);
  bool ok = true;
  if (mode == "all" || mode == "check") {
    std::printf("correctness (fp32 reference, first 300 rows of the first and last head):\n");
    for (const Variant& var : kVariants)
      for (auto s : std::vector<std::vector<int>>{
               {1, 1, 1, 64}, {1, 2, 17, 64}, {2, 3, 1000, 64}, {1, 2, 4097, 64}, {1, 1, 300, 40}})
        ok = check(var, s[0], s[1], s[2], s[3]) && ok;
  }
  if (mode == "all" || mode == "bench") {
    std::printf("timing (bf16 forward):\n");
    for (auto s :
         std::vector<std::vector<int>>{{4, 8, 4096, 64}, {1, 8, 16384, 64}, {2, 8, 3136, 64}})
      for (const Variant& var : kVariants) bench(var, s[0], s[1], s[2], s[3]);
  }
  std::printf(ok ? "ALL OK\n" : "SOME FAILED\n");
  return ok ? 0 : 1;
}

// ---- backward ----------------------------------------------------------------------------------
#include "model/kernels/flash/flash_bwd_ws_kernel.cuh"

using BwdLaunch = cudaError_t (*)(const FlashBwdParams&, cudaStream_t);
struct BwdVariant {
  const char* name;
  BwdLaunch fn;
};
static const BwdVariant kBwdVariants[] = {
    {"mma", &run_bwd_hdim<64, bf16>},
    {"ws s2", &launch_bwd_ws<WsBwdTraits<2>, bf16>},
    {"ws s3", &launch_bwd_ws<WsBwdTraits<3>, bf16>},
};

struct BwdBufs {
  bf16 *dout, *dq, *dk, *dv;
  float *delta, *dq_accum;
  FlashBwdParams p;
};
static BwdBufs make_bwd(Problem& pr) {
  BwdBufs bb{};
  const size_t n = size_t(pr.B) * pr.H * pr.N * pr.d;
  std::vector<bf16> buf(n);
  std::mt19937 rng(99);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& x : buf) x = __float2bfloat16(nd(rng));
  CK(cudaMalloc(&bb.dout, n * 2));
  CK(cudaMemcpy(bb.dout, buf.data(), n * 2, cudaMemcpyHostToDevice));
  CK(cudaMalloc(&bb.dq, n * 2));
  CK(cudaMalloc(&bb.dk, n * 2));
  CK(cudaMalloc(&bb.dv, n * 2));
  CK(cudaMalloc(&bb.delta, size_t(pr.B) * pr.H * pr.N * 4));
  CK(cudaMalloc(&bb.dq_accum, n * 4));
  {
    cudaError_t e0 = run_fwd_hdim<64, bf16>(pr.p, nullptr);
    CK(e0);
  }  // O and LSE
  FlashBwdParams& p = bb.p;
  const FlashFwdParams& f = pr.p;
  p.q = f.q, p.k = f.k, p.v = f.v, p.o = f.o, p.dout = bb.dout, p.lse = f.lse;
  p.delta = bb.delta, p.dq_accum = bb.dq_accum, p.dq = bb.dq, p.dk = bb.dk, p.dv = bb.dv;
  p.q_batch_stride = f.q_batch_stride, p.q_head_stride = f.q_head_stride,
  p.q_row_stride = f.q_row_stride;
  p.k_batch_stride = f.k_batch_stride, p.k_head_stride = f.k_head_stride,
  p.k_row_stride = f.k_row_stride;
  p.v_batch_stride = f.v_batch_stride, p.v_head_stride = f.v_head_stride,
  p.v_row_stride = f.v_row_stride;
  p.o_batch_stride = f.o_batch_stride, p.o_head_stride = f.o_head_stride,
  p.o_row_stride = f.o_row_stride;
  p.do_batch_stride = f.o_batch_stride, p.do_head_stride = f.o_head_stride,
  p.do_row_stride = f.o_row_stride;
  p.batch = f.batch, p.heads = f.heads, p.n_q = f.n_q, p.n_k = f.n_k, p.d = f.d, p.scale = f.scale;
  return bb;
}
static void free_bwd(BwdBufs& bb) {
  cudaFree(bb.dout), cudaFree(bb.dq), cudaFree(bb.dk), cudaFree(bb.dv), cudaFree(bb.delta),
      cudaFree(bb.dq_accum);
}
static bool check_bwd(const BwdVariant& var, int B, int H, int N, int d) {
  Problem pr = make(B, H, N, d, 4321 + N);
  BwdBufs bb = make_bwd(pr);
  const size_t n = size_t(B) * H * N * d;
  {
    cudaError_t e0 = run_bwd_hdim<64, bf16>(bb.p, nullptr);
    CK(e0);
  }
  CK(cudaDeviceSynchronize());
  auto rq = fetch_bf16(bb.dq, n), rk = fetch_bf16(bb.dk, n), rv = fetch_bf16(bb.dv, n);
  CK(cudaMemset(bb.dk, 0xff, n * 2));
  CK(cudaMemset(bb.dv, 0xff, n * 2));
  CK(cudaMemset(bb.dq, 0xff, n * 2));
  cudaError_t st = var.fn(bb.p, nullptr);
  if (st == cudaErrorNotSupported) {
    std::printf("  bwd %-8s (%d,%d,%d,%d): not supported\n", var.name, B, H, N, d);
    free_bwd(bb), release(pr);
    return true;
  }
  CK(st);
  CK(cudaDeviceSynchronize());
  auto oq = fetch_bf16(bb.dq, n), ok_ = fetch_bf16(bb.dk, n), ov = fetch_bf16(bb.dv, n);
  auto rel = [&](const std::vector<float>& a, const std::vector<float>& r) {
    double mx = 0, e = 0;
    for (size_t i = 0; i < n; ++i) {
      mx = std::max(mx, double(std::fabs(r[i])));
      const double diff = std::fabs(double(a[i]) - r[i]);
      e = std::isfinite(diff) ? std::max(e, diff) : 1e30;
    }
    return e / std::max(mx, 1e-6);
  };
  const double eq = rel(oq, rq), ek = rel(ok_, rk), ev = rel(ov, rv);
  const bool good = eq < 2e-2 && ek < 2e-2 && ev < 2e-2;
  std::printf("  bwd %-8s (%d,%d,%d,%d): rel max diff vs mma dq %.2e dk %.2e dv %.2e %s\n",
              var.name, B, H, N, d, eq, ek, ev, good ? "ok" : "FAIL");
  free_bwd(bb), release(pr);
  return good;
}

static void bench_bwd(const BwdVariant& var, int B, int H, int N, int d) {
  Problem pr = make(B, H, N, d, 5);
  BwdBufs bb = make_bwd(pr);
  if (var.fn(bb.p, nullptr) == cudaErrorNotSupported) return;
  const float ms = event_ms(3, 20, [&] { CK(var.fn(bb.p, nullptr)); });
  const double flops = 2.5 * 4.0 * B * H * double(N) * N * d;
  std::printf("  bwd %-8s (%d,%d,%d,%d): %.3f ms  %.0f TFLOP/s\n", var.name, B, H, N, d, ms,
              flops / ms / 1e9);
  free_bwd(bb), release(pr);
}

int bwd_main(const std::string& mode) {
  bool ok = true;
  if (mode == "bwd" || mode == "bwdcheck") {
    for (const BwdVariant& var : kBwdVariants)
      for (auto s : std::vector<std::vector<int>>{
               {1, 1, 1, 64}, {1, 2, 17, 64}, {2, 3, 1000, 64}, {1, 2, 4097, 64}, {1, 1, 300, 40}})
        ok = check_bwd(var, s[0], s[1], s[2], s[3]) && ok;
  }
  if (mode == "bwdrace") {
    ok = check_bwd(kBwdVariants[1], 1, 1, 132, 64) && ok;
    ok = check_bwd(kBwdVariants[1], 1, 2, 300, 40) && ok;
    ok = check(kVariants[3], 1, 1, 300, 64) && ok;
  }
  if (mode == "bwd" || mode == "bwdbench") {
    for (auto s :
         std::vector<std::vector<int>>{{4, 8, 4096, 64}, {1, 8, 16384, 64}, {2, 8, 3136, 64}})
      for (const BwdVariant& var : kBwdVariants) bench_bwd(var, s[0], s[1], s[2], s[3]);
  }
  std::printf(ok ? "BWD OK\n" : "BWD FAILED\n");
  return ok ? 0 : 1;
}
