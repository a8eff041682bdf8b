// The quantisation pass for every head dim and element type (small kernels: one file); see
// sage_quant_kernel.cuh.
#include "model/kernels/sage/sage_launch.h"
#include "model/kernels/sage/sage_quant_kernel.cuh"

namespace latentcast::kernels::sage {

template cudaError_t run_quant_hdim<32, __nv_bfloat16>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_hdim<32, __half>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_hdim<64, __nv_bfloat16>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_hdim<64, __half>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_hdim<128, __nv_bfloat16>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_hdim<128, __half>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_smooth_k_typed<__nv_bfloat16>(const SageSmoothParams&, cudaStream_t);
template cudaError_t run_smooth_k_typed<__half>(const SageSmoothParams&, cudaStream_t);

}  // namespace latentcast::kernels::sage
