// Kernel lab (not part of the CMake build; model/kernels/lab/run builds and runs it): the issue
// rate per clock and SM of the instructions in the attention forwards' softmax on sm_90a, alone and
// mixed as the kernels mix them. One CTA of 1024 threads per SM, 8 independent chains a thread,
// clock64 around the loop; each op's result feeds the next op of its chain, so none is dropped.
#include <cuda_runtime.h>
#include <cstdint>
#include <cstdio>
constexpr int kChains = 8, kIters = 4096;
// One instruction each, behind asm volatile so that the compiler neither folds nor drops it:
// LAB_OP(result type, name, PTX, output constraint, (parameters), inputs...).
#define LAB_OP(R, name, ptx, out, params, ...) \
  __device__ __forceinline__ R name params {   \
    R y;                                       \
    asm volatile(ptx : out(y) : __VA_ARGS__);  \
    return y;                                  \
  }
LAB_OP(float, ex2f, "ex2.approx.ftz.f32 %0, %1;", "=f", (float x), "f"(x))
LAB_OP(uint32_t, ex2h2, "ex2.approx.f16x2 %0, %1;", "=r", (uint32_t x), "r"(x))
LAB_OP(uint32_t, ex2b2, "ex2.approx.ftz.bf16x2 %0, %1;", "=r", (uint32_t x), "r"(x))
LAB_OP(uint32_t, pack, "cvt.rn.bf16x2.f32 %0, %1, %2;", "=r", (float a, float b), "f"(a), "f"(b))
LAB_OP(float, i2f, "cvt.rn.f32.s32 %0, %1;", "=f", (int x), "r"(x))
LAB_OP(int, imax, "max.s32 %0, %1, %2;", "=r", (int a, int b), "r"(a), "r"(b))
LAB_OP(int, iadd, "add.s32 %0, %1, %2;", "=r", (int a, int b), "r"(a), "r"(b))
LAB_OP(float, ffma, "fma.rn.f32 %0, %1, %2, %3;", "=f", (float a, float b, float c), "f"(a), "f"(b),
       "f"(c))
LAB_OP(float, fmx, "max.f32 %0, %1, %2;", "=f", (float a, float b), "f"(a), "f"(b))
// FlashAttention-4 style exp2 on the FMA pipe: Cody-Waite split and a degree-3 polynomial.
__device__ __forceinline__ float poly_ex2(float x) {
  x = fmaxf(x, -127.f);
  const float t = x + 12582912.f;
  const float j = t - 12582912.f;
  const float f = x - j;
  float p = fmaf(fmaf(fmaf(0.0555041f, f, 0.2402265f), f, 0.6931472f), f, 1.f);
  return __int_as_float(__float_as_int(p) + (__float_as_int(t) << 23));
}

enum Op {
  EX2,
  EX2H2,
  EX2B2,
  PACK,
  I2F,
  IMAX,
  IADD,
  FFMA,
  FMAX,
  POLY,
  EX2_PACK,
  EX2_I2F,
  EX2_IMAX_IADD,
  EX2_FFMA,
  EX2_POLY3,
  SOFTMAX_SAGE
};
template <int kOp>
__global__ void __launch_bounds__(1024, 1) bench(float* out, long long* cycles, float seed) {
  float f[kChains];
  int i[kChains];
  uint32_t u[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) {
    f[c] = seed * (threadIdx.x + c) * 1e-6f - 0.5f;
    i[c] = threadIdx.x * 7 + c;
    u[c] = 0x3c003c00u + c + threadIdx.x;
  }
  __syncthreads();
  const long long t0 = clock64();
  for (int it = 0; it < kIters; ++it) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) {
      if constexpr (kOp == EX2) f[c] = -ex2f(f[c]);
      if constexpr (kOp == EX2H2) u[c] = ex2h2(u[c]) | 0x80008000u;
      if constexpr (kOp == EX2B2) u[c] = ex2b2(u[c]) | 0x80008000u;
      if constexpr (kOp == PACK) f[c] = __int_as_float(pack(f[c], f[(c + 1) % kChains]));
      if constexpr (kOp == I2F) i[c] = __float_as_int(i2f(i[c]));
      if constexpr (kOp == IMAX) i[c] = imax(i[c], i[(c + 3) % kChains]);
      if constexpr (kOp == IADD) i[c] = iadd(i[c], i[(c + 5) % kChains]);
      if constexpr (kOp == FFMA) f[c] = ffma(f[c], 0.999f, 0.001f);
      if constexpr (kOp == FMAX) f[c] = fmx(f[c], f[(c + 3) % kChains]);
      if constexpr (kOp == POLY) f[c] = -poly_ex2(f[c]);
      if constexpr (kOp == EX2_PACK) {  // two exp2 and one pack: a softmax's ratio
        const float a = ex2f(f[c]), b = ex2f(-f[c]);
        f[c] = -__int_as_float(pack(a, b) & 0x3fff3fffu);
      }
      if constexpr (kOp == EX2_I2F) f[c] = -ex2f(i2f(__float_as_int(f[c])) * 1e-9f);
      if constexpr (kOp == EX2_IMAX_IADD) {
        i[c] = iadd(imax(i[c], 5), 0x4B400000);
        f[c] = -ex2f(__int_as_float(i[c]) - f[c]);
        i[c] ^= __float_as_int(f[c]);
      }
      if constexpr (kOp == EX2_FFMA) f[c] = -ex2f(ffma(f[c], 0.999f, 0.001f));
      if constexpr (kOp == EX2_POLY3) f[c] = (c % 4 == 0) ? -poly_ex2(f[c]) : -ex2f(f[c]);
      if constexpr (kOp == SOFTMAX_SAGE) {  // per score: imax, iadd, ffma, ex2, half a pack
        i[c] = imax(i[c], i[(c + 1) % kChains]);
        const float x = ffma(__int_as_float(iadd(i[c], 0x4B400000)), 1e-7f, -1258291.f);
        f[c] = ex2f(x);
        if (c & 1) i[c] = pack(f[c - 1], f[c]) & 0xffff;
      }
    }
  }
  const long long t1 = clock64();
  float s = 0;
  for (int c = 0; c < kChains; ++c) s += f[c] + i[c] + u[c];
  out[blockIdx.x * 1024 + threadIdx.x] = s;
  if (threadIdx.x == 0) cycles[blockIdx.x] = t1 - t0;
}
template <int kOp>
void run(const char* name, double per_chain_ops, int sms, float* out, long long* cyc) {
  bench<kOp><<<sms, 1024>>>(out, cyc, 1.f);
  bench<kOp><<<sms, 1024>>>(out, cyc, 1.f);
  cudaDeviceSynchronize();
  long long h[1024];
  cudaMemcpy(h, cyc, sms * sizeof(long long), cudaMemcpyDeviceToHost);
  double mean = 0;
  for (int s = 0; s < sms; ++s) mean += h[s];
  mean /= sms;
  const double ops = 1024.0 * kChains * kIters * per_chain_ops;
  printf("%-16s %8.2f ops/clk/SM  (%s)\n", name, ops / mean,
         cudaGetErrorString(cudaGetLastError()));
}
int main() {
  int sms;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float* out;
  long long* cyc;
  cudaMalloc(&out, sms * 1024 * 4);
  cudaMalloc(&cyc, sms * 8);
  run<EX2>("ex2.f32", 1, sms, out, cyc);
  run<EX2H2>("ex2.f16x2 (el)", 2, sms, out, cyc);
  run<EX2B2>("ex2.bf16x2 (el)", 2, sms, out, cyc);
  run<PACK>("cvt bf16x2", 1, sms, out, cyc);
  run<I2F>("i2f", 1, sms, out, cyc);
  run<IMAX>("max.s32", 1, sms, out, cyc);
  run<IADD>("add.s32", 1, sms, out, cyc);
  run<FFMA>("fma.f32", 1, sms, out, cyc);
  run<FMAX>("max.f32", 1, sms, out, cyc);
  run<POLY>("poly ex2 (el)", 1, sms, out, cyc);
  run<EX2_PACK>("2 ex2+pack (ex)", 2, sms, out, cyc);
  run<EX2_I2F>("ex2+i2f (ex)", 1, sms, out, cyc);
  run<EX2_IMAX_IADD>("ex2+imax+iadd", 1, sms, out, cyc);
  run<EX2_FFMA>("ex2+ffma (ex)", 1, sms, out, cyc);
  run<EX2_POLY3>("3 ex2:1 poly (el)", 1, sms, out, cyc);
  run<SOFTMAX_SAGE>("sage softmax (sc)", 1, sms, out, cyc);
  return 0;
}
