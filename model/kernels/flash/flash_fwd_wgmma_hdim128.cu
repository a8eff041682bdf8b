// The Hopper (wgmma) forward kernel for head dim 128 (bf16 and fp16); see
// flash_fwd_wgmma_kernel.cuh. Built for sm_90a only (model/kernels/CMakeLists.txt).
#include "model/kernels/flash/flash_fwd_wgmma_kernel.cuh"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {

template cudaError_t run_fwd_wgmma_hdim<128, __nv_bfloat16>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd_wgmma_hdim<128, __half>(const FlashFwdParams&, cudaStream_t);
template bool fwd_wgmma_runs_here<128, __nv_bfloat16>();
template bool fwd_wgmma_runs_here<128, __half>();

}  // namespace latentcast::kernels::flash
