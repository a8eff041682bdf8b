// The backward kernels for head dim 32 (bf16 and fp16); see flash_bwd_kernel.cuh.
#include "model/kernels/flash/flash_bwd_kernel.cuh"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {

template cudaError_t run_bwd_hdim<32, __nv_bfloat16>(const FlashBwdParams&, cudaStream_t);
template cudaError_t run_bwd_hdim<32, __half>(const FlashBwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::flash
