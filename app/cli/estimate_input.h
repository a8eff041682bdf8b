// What the estimator needs besides the project, found on this machine: the target device (the
// detected GPU, a preset or a capacity), the dataset's segment counts and the attention backend
// the engine would resolve. Shared by `estimate` and the estimator benchmark.
#pragma once

#include <string>

#include "estimator/config.h"
#include "estimator/estimate.h"

namespace latentcast::cli {

struct EstimateTarget {
  estimator::EstimateRequest request;
};

// device: cpu | cuda | auto (the GPU if there is one); gpu: a preset key ("24gb") or empty;
// capacity: bytes, 0 for the device's own. Throws std::invalid_argument / UsageError on bad input.
EstimateTarget estimate_target(const ProjectConfig& config, const std::string& device,
                               const std::string& gpu, long long capacity);

}  // namespace latentcast::cli
