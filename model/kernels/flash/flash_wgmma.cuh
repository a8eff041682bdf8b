// Hopper warpgroup matrix instructions (wgmma, sm_90a) for the flash forward: shared-memory
// descriptors for the no-swizzle core-matrix layout and the m64nNk16 shapes it uses. The layout
// facts were checked on an H200 with a probe before use: for both K-major and MN-major operands
// the descriptor's leading byte offset is the distance between 8x8 core matrices along K and the
// stride byte offset the distance along M or N.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "model/kernels/flash/flash_common.cuh"

namespace latentcast::kernels::flash {

// A shared-memory matrix descriptor: start address, leading (K) and stride (M/N) byte offsets
// between core matrices, and the layout (bits 62-63): 0 no swizzle (the default), 1 the 128-byte
// swizzle, 2 the 64-byte one (flash_tma.cuh names the swizzled forms).
__device__ __forceinline__ std::uint64_t wgmma_desc(std::uint32_t smem_addr, std::uint32_t lbo,
                                                    std::uint32_t sbo, std::uint64_t layout = 0) {
  return std::uint64_t((smem_addr >> 4) & 0x3FFF) | (std::uint64_t((lbo >> 4) & 0x3FFF) << 16) |
         (std::uint64_t((sbo >> 4) & 0x3FFF) << 32) | (layout << 62);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Makes this thread's generic-proxy shared-memory writes (cp.async included) visible to wgmma.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// The accumulator operands of a wgmma over a 64 x N tile (N / 2 registers per thread): their
// place in the instruction's text (LATENTCAST_WGMMA_D<N/2>) and the inline-asm operands over the
// array d with constraint C, "+f" for fp32 or "+r" for s32 (LATENTCAST_WGMMA_ACC<N/2>).
#define LATENTCAST_WGMMA_D16 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define LATENTCAST_WGMMA_D20 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19}"
#define LATENTCAST_WGMMA_D32                                                                    \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define LATENTCAST_WGMMA_D36                                                                    \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35}"
#define LATENTCAST_WGMMA_D64                                                                    \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, "  \
  "%38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, "  \
  "%56, %57, %58, %59, %60, %61, %62, %63}"
#define LATENTCAST_WGMMA_ACC4(C, d, i) C(d[i]), C(d[i + 1]), C(d[i + 2]), C(d[i + 3])
#define LATENTCAST_WGMMA_ACC16(C, d)                                                              \
  LATENTCAST_WGMMA_ACC4(C, d, 0), LATENTCAST_WGMMA_ACC4(C, d, 4), LATENTCAST_WGMMA_ACC4(C, d, 8), \
      LATENTCAST_WGMMA_ACC4(C, d, 12)
#define LATENTCAST_WGMMA_ACC20(C, d) LATENTCAST_WGMMA_ACC16(C, d), LATENTCAST_WGMMA_ACC4(C, d, 16)
#define LATENTCAST_WGMMA_ACC32(C, d)                                                              \
  LATENTCAST_WGMMA_ACC16(C, d), LATENTCAST_WGMMA_ACC4(C, d, 16), LATENTCAST_WGMMA_ACC4(C, d, 20), \
      LATENTCAST_WGMMA_ACC4(C, d, 24), LATENTCAST_WGMMA_ACC4(C, d, 28)
#define LATENTCAST_WGMMA_ACC36(C, d) LATENTCAST_WGMMA_ACC32(C, d), LATENTCAST_WGMMA_ACC4(C, d, 32)
#define LATENTCAST_WGMMA_ACC64(C, d)                                                              \
  LATENTCAST_WGMMA_ACC32(C, d), LATENTCAST_WGMMA_ACC4(C, d, 32), LATENTCAST_WGMMA_ACC4(C, d, 36), \
      LATENTCAST_WGMMA_ACC4(C, d, 40), LATENTCAST_WGMMA_ACC4(C, d, 44),                           \
      LATENTCAST_WGMMA_ACC4(C, d, 48), LATENTCAST_WGMMA_ACC4(C, d, 52),                           \
      LATENTCAST_WGMMA_ACC4(C, d, 56), LATENTCAST_WGMMA_ACC4(C, d, 60)

// One 16-bit wgmma with fp32 accumulators d, in T's type (bf16 or fp16): SHAPE ("m64n64k16"),
// D / ACC the accumulators' text and operands (above), AB the A and B operands' text, PRED the
// scale-d predicate's source (an operand, or 1), LAYOUT the scale and transpose immediates, then
// the A / B / predicate inline-asm operands.
#define LATENTCAST_WGMMA_F32_TYPE(TYPE, SHAPE, D, ACC, AB, PRED, LAYOUT, ...)            \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PRED                                  \
               ", 0;\n"                                                                  \
               "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE " " D ", " AB \
               ", p, " LAYOUT ";\n}\n"                                                   \
               : ACC("+f", d)                                                            \
               : __VA_ARGS__)
#define LATENTCAST_WGMMA_F32(T, ...)                \
  if constexpr (std::is_same_v<T, __nv_bfloat16>)   \
    LATENTCAST_WGMMA_F32_TYPE("bf16", __VA_ARGS__); \
  else                                              \
    LATENTCAST_WGMMA_F32_TYPE("f16", __VA_ARGS__)

// d (64 x 64, fp32) += A (64 x 16, shared memory, K-major) * B (16 x 64, shared memory,
// K-major); with accumulate == 0, d = A * B (its old values unread).
template <class T>
__device__ __forceinline__ void wgmma_ss_n64(float (&d)[32], std::uint64_t desc_a,
                                             std::uint64_t desc_b, int accumulate = 1) {
  LATENTCAST_WGMMA_F32(T, "m64n64k16", LATENTCAST_WGMMA_D32, LATENTCAST_WGMMA_ACC32, "%32, %33",
                       "%34", "1, 1, 0, 0", "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d (64 x 128, fp32) += A (64 x 16, shared memory, K-major) * B (16 x 128, shared memory,
// K-major); with accumulate == 0, d = A * B.
template <class T>
__device__ __forceinline__ void wgmma_ss_n128(float (&d)[64], std::uint64_t desc_a,
                                              std::uint64_t desc_b, int accumulate = 1) {
  LATENTCAST_WGMMA_F32(T, "m64n128k16", LATENTCAST_WGMMA_D64, LATENTCAST_WGMMA_ACC64, "%64, %65",
                       "%66", "1, 1, 0, 0", "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d (64 x 64, fp32) += A (64 x 16, registers: the mma.sync A layout of each warp's 16 rows) *
// B (16 x 64, shared memory, MN-major).
template <class T>
__device__ __forceinline__ void wgmma_rs_n64_tb(float (&d)[32], const std::uint32_t (&a)[4],
                                                std::uint64_t desc_b) {
  LATENTCAST_WGMMA_F32(T, "m64n64k16", LATENTCAST_WGMMA_D32, LATENTCAST_WGMMA_ACC32,
                       "{%32, %33, %34, %35}, %36", "1", "1, 1, 1", "r"(a[0]), "r"(a[1]), "r"(a[2]),
                       "r"(a[3]), "l"(desc_b));
}

// d (64 x 72, fp32) += A (64 x 16, registers) * B (16 x 72, shared memory, MN-major).
#define LATENTCAST_WGMMA_N72(TYPE)                                                   \
  asm volatile("wgmma.mma_async.sync.aligned.m64n72k16.f32." TYPE "." TYPE           \
               " " LATENTCAST_WGMMA_D36 ", {%36, %37, %38, %39}, %40, 1, 1, 1, 1;\n" \
               : LATENTCAST_WGMMA_ACC36("+f", d)                                     \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b))
template <class T>
__device__ __forceinline__ void wgmma_rs_n72_tb(float (&d)[36], const std::uint32_t (&a)[4],
                                                std::uint64_t desc_b) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    LATENTCAST_WGMMA_N72("bf16");
  else
    LATENTCAST_WGMMA_N72("f16");
}
#undef LATENTCAST_WGMMA_N72

// d (64 x 40, fp32) += A (64 x 16, registers) * B (16 x 40, shared memory, MN-major).
template <class T>
__device__ __forceinline__ void wgmma_rs_n40_tb(float (&d)[20], const std::uint32_t (&a)[4],
                                                std::uint64_t desc_b) {
  LATENTCAST_WGMMA_F32(T, "m64n40k16", LATENTCAST_WGMMA_D20, LATENTCAST_WGMMA_ACC20,
                       "{%20, %21, %22, %23}, %24", "1", "1, 1, 1", "r"(a[0]), "r"(a[1]), "r"(a[2]),
                       "r"(a[3]), "l"(desc_b));
}

// d (64 x 128, fp32) += A (64 x 16, registers: the mma.sync A layout of each warp's 16 rows) *
// B (16 x 128, shared memory, MN-major).
template <class T>
__device__ __forceinline__ void wgmma_rs_n128_tb(float (&d)[64], const std::uint32_t (&a)[4],
                                                 std::uint64_t desc_b) {
  LATENTCAST_WGMMA_F32(T, "m64n128k16", LATENTCAST_WGMMA_D64, LATENTCAST_WGMMA_ACC64,
                       "{%64, %65, %66, %67}, %68", "1", "1, 1, 1", "r"(a[0]), "r"(a[1]), "r"(a[2]),
                       "r"(a[3]), "l"(desc_b));
}

// The fp32 accumulators of a 64 x (16 kKSteps) product, in the 16-bit type, as the register A
// operands of kKSteps k16 steps of a following product (each warp's 16 rows share mma.sync's A
// layout with the accumulators' layout).
template <class T, int kKSteps>
__device__ __forceinline__ void accum_to_a(const float (&s)[kKSteps * 8],
                                           std::uint32_t (&a)[kKSteps][4]) {
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk) {
    a[kk][0] = Elem<T>::pack(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
    a[kk][1] = Elem<T>::pack(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
    a[kk][2] = Elem<T>::pack(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
    a[kk][3] = Elem<T>::pack(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
  }
}

// d (64 x 32, fp32) += A (64 x 16, shared memory, MN-major) * B (16 x 32, shared memory,
// MN-major); with accumulate == 0, d = A * B.
template <class T>
__device__ __forceinline__ void wgmma_ss_n32_tt(float (&d)[16], std::uint64_t desc_a,
                                                std::uint64_t desc_b, int accumulate) {
  LATENTCAST_WGMMA_F32(T, "m64n32k16", LATENTCAST_WGMMA_D16, LATENTCAST_WGMMA_ACC16, "%16, %17",
                       "%18", "1, 1, 1, 1", "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

}  // namespace latentcast::kernels::flash
