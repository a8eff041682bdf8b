// The warp-specialised Hopper sage forward (TMA + INT8 wgmma) for head dim 64 (bf16 and fp16 V);
// see sage_fwd_ws_kernel.cuh. Built for sm_90a only (model/kernels/CMakeLists.txt).
#include "model/kernels/sage/sage_fwd_ws_kernel.cuh"
#include "model/kernels/sage/sage_launch.h"

namespace latentcast::kernels::sage {

template cudaError_t run_fwd_ws_hdim<64, __nv_bfloat16>(const SageFwdParams&, cudaStream_t);
template cudaError_t run_fwd_ws_hdim<64, __half>(const SageFwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::sage
