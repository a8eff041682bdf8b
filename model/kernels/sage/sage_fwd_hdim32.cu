// The sage forward kernel for head dim 32 (bf16 and fp16 V); see sage_fwd_kernel.cuh.
#include "model/kernels/sage/sage_fwd_kernel.cuh"
#include "model/kernels/sage/sage_launch.h"

namespace latentcast::kernels::sage {

template cudaError_t run_fwd_hdim<32, __nv_bfloat16>(const SageFwdParams&, cudaStream_t);
template cudaError_t run_fwd_hdim<32, __half>(const SageFwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::sage
