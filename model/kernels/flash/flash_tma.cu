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

}  // namespace

cudaError_t encode_tile_map(CUtensorMap* map, const void* base, Dtype dtype, int batch, int heads,
                            int n, int d, std::int64_t row_stride, std::int64_t head_stride,
                            std::int64_t batch_stride, int box_rows) {
  const auto encode = encoder();
  if (!encode || batch <= 0 || heads <= 0 || n <= 0 || d <= 0 || d > 64)
    return cudaErrorNotSupported;
  constexpr std::int64_t kElem = 2;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(d), static_cast<cuuint64_t>(n),
                              static_cast<cuuint64_t>(heads), static_cast<cuuint64_t>(batch)};
  // A dimension of extent 1 may carry any stride; give it one the encoder accepts.
  const std::int64_t row = row_stride * kElem;
  const std::int64_t head = heads == 1 ? row * n : head_stride * kElem;
  const std::int64_t bat = batch == 1 ? head * heads : batch_stride * kElem;
  for (const std::int64_t s : {row, head, bat})
    if (s <= 0 || s % 16 != 0 || s >= (std::int64_t{1} << 40)) return cudaErrorNotSupported;
  const cuuint64_t strides[3] = {static_cast<cuuint64_t>(row), static_cast<cuuint64_t>(head),
                                 static_cast<cuuint64_t>(bat)};
  const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  const CUresult status = encode(
      map,
      dtype == Dtype::BFloat16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      4, const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return status == CUDA_SUCCESS ? cudaSuccess : cudaErrorNotSupported;
}

}  // namespace latentcast::kernels::flash
