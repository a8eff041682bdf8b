// The per-head-dim launchers, declared for flash_api.cu and defined by one instantiation file each
// (flash_{fwd,bwd}_hdim{32,64,128}.cu, flash_fwd_wgmma_hdim128.cu, flash_{fwd,bwd}_ws_hdim64.cu),
// so the kernels compile in parallel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "model/kernels/flash/flash.h"

namespace latentcast::kernels::flash {

template <int kHeadDim, class T>
cudaError_t run_fwd_hdim(const FlashFwdParams& p, cudaStream_t stream);
template <int kHeadDim, class T>
cudaError_t run_bwd_hdim(const FlashBwdParams& p, cudaStream_t stream);

// The Hopper forward (flash_fwd_wgmma_hdim128.cu, built for sm_90a when the build targets
// sm_90: LATENTCAST_FLASH_WGMMA), and whether its machine code runs on the current device.
template <int kHeadDim, class T>
cudaError_t run_fwd_wgmma_hdim(const FlashFwdParams& p, cudaStream_t stream);
template <int kHeadDim, class T>
bool fwd_wgmma_runs_here();

// Whether the Hopper kernels (all of the above that need sm_90a) run: built for sm_90a, the
// current device an sm_90 one, and LATENTCAST_FLASH_FWD=mma not set (flash_api.cu). Sage's
// Hopper forward follows the same switch.
bool hopper_kernels_run_here();

// The warp-specialised Hopper forward (flash_fwd_ws_hdim64.cu, sm_90a, the same condition).
// cudaErrorNotSupported, with nothing launched, when the tensors cannot be described to the copy
// engine (the caller then runs the mma.sync kernel).
template <int kHeadDim, class T>
cudaError_t run_fwd_ws_hdim(const FlashFwdParams& p, cudaStream_t stream);
// Its backward (flash_bwd_ws_hdim64.cu), with the same fallback contract.
template <int kHeadDim, class T>
cudaError_t run_bwd_ws_hdim(const FlashBwdParams& p, cudaStream_t stream);

}  // namespace latentcast::kernels::flash
