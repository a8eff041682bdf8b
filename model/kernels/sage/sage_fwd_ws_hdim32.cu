// The warp-specialised Hopper sage forward for head dims up to 32 (bf16 and fp16 V): 64-byte INT8
// rows, P V as m64n40 over 32-column V tiles; see sage_fwd_ws_kernel.cuh. Built for sm_90a only
// (model/kernels/CMakeLists.txt).
#include "model/kernels/sage/sage_fwd_ws_kernel.cuh"
#include "model/kernels/sage/sage_launch.h"

namespace latentcast::kernels::sage {

template cudaError_t run_fwd_ws_hdim<32, __nv_bfloat16>(const SageFwdParams&, cudaStream_t);
template cudaError_t run_fwd_ws_hdim<32, __half>(const SageFwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::sage
