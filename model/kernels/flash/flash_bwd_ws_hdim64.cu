// The warp-specialised Hopper backward (TMA + wgmma) for head dim 64 (bf16 and fp16); see
// flash_bwd_ws_kernel.cuh. Built for sm_90a only (model/kernels/CMakeLists.txt).
#include "model/kernels/flash/flash_bwd_ws_kernel.cuh"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {

template cudaError_t run_bwd_ws_hdim<64, __nv_bfloat16>(const FlashBwdParams&, cudaStream_t);
template cudaError_t run_bwd_ws_hdim<64, __half>(const FlashBwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::flash
