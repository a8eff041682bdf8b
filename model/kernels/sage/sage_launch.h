// The per-head-dim launchers of the sage kernels, declared for sage_api.cu and defined by one
// instantiation file each (sage_fwd_hdim{32,64,128}.cu, sage_quant.cu), so they compile in
// parallel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "model/kernels/sage/sage.h"

namespace latentcast::kernels::sage {

template <int kHeadDim, class T>
cudaError_t run_quant_hdim(const SageQuantParams& p, cudaStream_t stream);
template <class T>
cudaError_t run_smooth_k_typed(const SageSmoothParams& p, cudaStream_t stream);
template <int kHeadDim, class T>
cudaError_t run_fwd_hdim(const SageFwdParams& p, cudaStream_t stream);
// The warp-specialised Hopper forward (sage_fwd_ws_hdim64.cu, sm_90a, built when the flash wgmma
// kernels are: LATENTCAST_FLASH_WGMMA). cudaErrorNotSupported, with nothing launched, when the
// tensors cannot be described to the copy engine: the caller runs the mma.sync kernel then.
template <int kHeadDim, class T>
cudaError_t run_fwd_ws_hdim(const SageFwdParams& p, cudaStream_t stream);

}  // namespace latentcast::kernels::sage
