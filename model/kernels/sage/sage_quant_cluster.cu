// The one-launch quantisation pass with thread-block clusters (sage_quant_cluster_kernel.cuh), for
// every head dim and element type. Built with the sm_90a kernels (model/kernels/CMakeLists.txt).
#include "model/kernels/sage/sage_launch.h"
#include "model/kernels/sage/sage_quant_cluster_kernel.cuh"

namespace latentcast::kernels::sage {

template cudaError_t run_quant_cluster_hdim<32, __nv_bfloat16>(const SageQuantParams&,
                                                               cudaStream_t);
template cudaError_t run_quant_cluster_hdim<32, __half>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_cluster_hdim<64, __nv_bfloat16>(const SageQuantParams&,
                                                               cudaStream_t);
template cudaError_t run_quant_cluster_hdim<64, __half>(const SageQuantParams&, cudaStream_t);
template cudaError_t run_quant_cluster_hdim<128, __nv_bfloat16>(const SageQuantParams&,
                                                                cudaStream_t);
template cudaError_t run_quant_cluster_hdim<128, __half>(const SageQuantParams&, cudaStream_t);

}  // namespace latentcast::kernels::sage
