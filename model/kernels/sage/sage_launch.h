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
// The one-launch quantisation pass with thread-block clusters (sage_quant_cluster.cu, sm_90a,
// built with the warp-specialised kernels: LATENTCAST_FLASH_WGMMA). Dispatched up to
// kClusterQuantMaxKeys keys, where every warp sums and quantises one block: past it a warp reloads
// the blocks it summed, and the portable pass is faster (H200, 2026-12-03: 27 against 24 us at
// (1,8,16384,64)).
constexpr int kClusterQuantMaxKeys = 4096;
template <int kHeadDim, class T>
cudaError_t run_quant_cluster_hdim(const SageQuantParams& p, cudaStream_t stream);
template <class T>
cudaError_t run_smooth_k_typed(const SageSmoothParams& p, cudaStream_t stream);
template <int kHeadDim, class T>
cudaError_t run_fwd_hdim(const SageFwdParams& p, cudaStream_t stream);
// The warp-specialised Hopper forward for head dims up to 32 and up to 64 (sage_fwd_ws_hdim32.cu,
// sage_fwd_ws_hdim64.cu, sm_90a, built when the flash wgmma kernels are: LATENTCAST_FLASH_WGMMA),
// both over INT8 rows of 64 bytes. cudaErrorNotSupported, with nothing launched, when the
// tensors cannot be described to the copy engine: the caller runs the mma.sync kernel then.
template <int kHeadDim, class T>
cudaError_t run_fwd_ws_hdim(const SageFwdParams& p, cudaStream_t stream);

}  // namespace latentcast::kernels::sage
