// Tile alternatives of the sage forward (bf16, head dims 32 and 64), chosen by LATENTCAST_SAGE_TILES
// for the benchmark; see sage_fwd_kernel.cuh's version log.
#include "model/kernels/sage/sage_fwd_kernel.cuh"
#include "model/kernels/sage/sage_launch.h"

namespace latentcast::kernels::sage {

template <int kHeadDim, class T>
cudaError_t run_fwd_tune(const SageFwdParams& p, cudaStream_t stream, char variant) {
  switch (variant) {
    case 'b':
      return launch_fwd<SageFwdTraits<kHeadDim, 64, 128, 4>, T>(p, stream);
    case 'c':
      return launch_fwd<SageFwdTraits<kHeadDim, 128, 64, 8>, T>(p, stream);
    case 'e':
      return launch_fwd<SageFwdTraits<kHeadDim, 64, 64, 4>, T>(p, stream);
    case 'f':
      return launch_fwd<SageFwdTraits<kHeadDim, 128, 64, 8, 2>, T>(p, stream);
    case 'g':
      return launch_fwd<SageFwdTraits<kHeadDim, 64, 64, 4, 4>, T>(p, stream);
  }
  return run_fwd_hdim<kHeadDim, T>(p, stream);
}

template cudaError_t run_fwd_tune<32, __nv_bfloat16>(const SageFwdParams&, cudaStream_t, char);
template cudaError_t run_fwd_tune<64, __nv_bfloat16>(const SageFwdParams&, cudaStream_t, char);

}  // namespace latentcast::kernels::sage
