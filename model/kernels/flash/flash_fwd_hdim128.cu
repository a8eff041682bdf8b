// The forward kernel for head dim 128 (bf16 and fp16); see flash_fwd_kernel.cuh.
#include "model/kernels/flash/flash_fwd_kernel.cuh"
#include "model/kernels/flash/flash_launch.h"

namespace latentcast::kernels::flash {

template cudaError_t run_fwd_hdim<128, __nv_bfloat16>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd_hdim<128, __half>(const FlashFwdParams&, cudaStream_t);

}  // namespace latentcast::kernels::flash
