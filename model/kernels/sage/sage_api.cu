// Dispatch of the sage kernels by head dim and element type.
#include <cuda_runtime.h>

#include <string>

#include "model/kernels/flash/flash_launch.h"
#include "model/kernels/sage/sage.h"
#include "model/kernels/sage/sage_launch.h"

namespace latentcast::kernels::sage {
namespace {

std::string text(cudaError_t status) {
  return status == cudaSuccess ? std::string() : std::string(cudaGetErrorString(status));
}

template <class T>
cudaError_t quant(const SageQuantParams& p, cudaStream_t s) {
#if LATENTCAST_FLASH_WGMMA
  // The clusters' pass where the Hopper kernels run (LATENTCAST_FLASH_FWD=mma keeps the portable
  // one, so the tests' mma twin covers it) and the keys fit its single pass.
  if (p.n_k <= kClusterQuantMaxKeys && flash::hopper_kernels_run_here())
    switch (padded_head_dim(p.d)) {
      case 32:
        return run_quant_cluster_hdim<32, T>(p, s);
      case 64:
        return run_quant_cluster_hdim<64, T>(p, s);
      case 128:
        return run_quant_cluster_hdim<128, T>(p, s);
    }
#endif
  switch (padded_head_dim(p.d)) {
    case 32:
      return run_quant_hdim<32, T>(p, s);
    case 64:
      return run_quant_hdim<64, T>(p, s);
    case 128:
      return run_quant_hdim<128, T>(p, s);
  }
  return cudaErrorInvalidValue;
}

template <class T>
cudaError_t fwd(const SageFwdParams& p, cudaStream_t s) {
  switch (padded_head_dim(p.d)) {
    case 32:
      return run_fwd_hdim<32, T>(p, s);
    case 64:
#if LATENTCAST_FLASH_WGMMA
      if (flash::hopper_kernels_run_here()) {  // head dims up to 32 have their own tiles
        const cudaError_t status =
            p.d <= 32 ? run_fwd_ws_hdim<32, T>(p, s) : run_fwd_ws_hdim<64, T>(p, s);
        if (status != cudaErrorNotSupported) return status;
      }
#endif
      return run_fwd_hdim<64, T>(p, s);
    case 128:
      return run_fwd_hdim<128, T>(p, s);
  }
  return cudaErrorInvalidValue;
}

}  // namespace

int padded_head_dim(int d) {
  if (d <= 0 || d % 8 != 0) return 0;
#if LATENTCAST_FLASH_WGMMA
  // The Hopper forward reads 64-byte INT8 rows for head dims up to 32 too.
  if (d <= 64 && flash::hopper_kernels_run_here()) return 64;
#endif
  if (d <= 32) return 32;
  if (d <= 64) return 64;
  if (d <= 128) return 128;
  return 0;
}

std::string run_quant(const SageQuantParams& p, Dtype dtype, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  return text(dtype == Dtype::BFloat16 ? quant<__nv_bfloat16>(p, s) : quant<__half>(p, s));
}

std::string run_fwd(const SageFwdParams& p, Dtype dtype, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  return text(dtype == Dtype::BFloat16 ? fwd<__nv_bfloat16>(p, s) : fwd<__half>(p, s));
}

std::string run_smooth_k(const SageSmoothParams& p, Dtype dtype, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  if (p.d % 8 != 0) return text(cudaErrorInvalidValue);
  return text(dtype == Dtype::BFloat16 ? run_smooth_k_typed<__nv_bfloat16>(p, s)
                                       : run_smooth_k_typed<__half>(p, s));
}

}  // namespace latentcast::kernels::sage
