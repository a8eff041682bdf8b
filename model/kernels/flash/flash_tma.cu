// The host half of flash_tma.cuh: tensor-map encoding through the driver entry point that the
// CUDA runtime hands out (no link against libcuda).
#include <cudaTypedefs.h>

#include "model/kernels/flash/flash_tma.cuh"

namespace latentcast::kernels::flash {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      return PFN_cuTensorMapEncodeTiled_v12000{nullptr};
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  return fn;
}

// A 4-d tiled map over [batch, heads, n, cols] (strides in bytes), boxes of [box_rows, box_cols].
cudaError_t encode_4d(CUtensorMap* map, const void* base, CUtensorMapDataType type, int batch,
                      int heads, int n, int cols, std::int64_t row, std::int64_t head,
                      std::int64_t bat, int box_cols, int box_rows, CUtensorMapSwizzle swizzle) {
  const auto encode = encoder();
  if (!encode || batch <= 0 || heads <= 0 || n <= 0 || cols <= 0) return cudaErrorNotSupported;
  // A dimension of extent 1 may carry any stride; give it one the encoder accepts.
  if (heads == 1) head = row * n;
  if (batch == 1) bat = head * heads;
  for (const std::int64_t s : {row, head, bat})
    if (s <= 0 || s % 16 != 0 || s >= (std::int64_t{1} << 40)) return cudaErrorNotSupported;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(n),
                              static_cast<cuuint64_t>(heads), static_cast<cuuint64_t>(batch)};
  const cuuint64_t strides[3] = {static_cast<cuuint64_t>(row), static_cast<cuuint64_t>(head),
                                 static_cast<cuuint64_t>(bat)};
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows),
                             1, 1};
  const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  const CUresult status =
      encode(map, type, 4, const_cast<void*>(base), dims, strides, box, elem_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return status == CUDA_SUCCESS ? cudaSuccess : cudaErrorNotSupported;
}

}  // namespace

cudaError_t encode_tile_map(CUtensorMap* map, const void* base, Dtype dtype, int batch, int heads,
                            int n, int d, std::int64_t row_stride, std::int64_t head_stride,
                            std::int64_t batch_stride, int box_rows, int box_cols) {
  if ((box_cols != 64 && box_cols != 32) || d > box_cols) return cudaErrorNotSupported;
  return encode_4d(
      map, base,
      dtype == Dtype::BFloat16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      batch, heads, n, d, row_stride * 2, head_stride * 2, batch_stride * 2, box_cols, box_rows,
      box_cols == 64 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B);
}

cudaError_t encode_f32_tile_map(CUtensorMap* map, float* base, int batch, int heads, int n, int d,
                                int box_rows) {
  if (d % 4 != 0) return cudaErrorNotSupported;
  const std::int64_t row = std::int64_t{d} * 4, head = row * n, bat = head * heads;
  return encode_4d(map, base, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, batch, heads, n, d, row, head, bat,
                   32, box_rows, CU_TENSOR_MAP_SWIZZLE_128B);
}

cudaError_t encode_int8_tile_map(CUtensorMap* map, const void* base, int batch, int heads, int n,
                                 int box_rows) {
  const std::int64_t row = 64, head = row * n, bat = head * heads;
  return encode_4d(map, base, CU_TENSOR_MAP_DATA_TYPE_UINT8, batch, heads, n, 64, row, head, bat,
                   64, box_rows, CU_TENSOR_MAP_SWIZZLE_64B);
}

}  // namespace latentcast::kernels::flash
