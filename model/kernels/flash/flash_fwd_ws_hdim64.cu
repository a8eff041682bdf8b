// The warp-specialised Hopper forward (TMA + wgmma) for head dim 64 (bf16 and fp16); see
// flash_fwd_ws_kernel.cuh. Built for sm_90a only (model/kernels/CMakeLists.txt).
#include "model/kernels/flash/flash_fwd_ws_kernel.cuh"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {

template cudaError_t run_fwd_ws_hdim<64, __nv_bfloat16>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd_ws_hdim<64, __half>(const FlashFwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::flash
