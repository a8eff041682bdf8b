// What the estimator needs besides the project, found on this machine: the device to plan for (the
// detected GPU, a preset or a capacity), the dataset's segment counts and the attention backend the
// engine would resolve. Shared by `latentcast-cli estimate`, the estimator benchmark and the GUI's
// memory panel (which keeps the device report and the loaded table, so a change costs no I/O).
#pragma once

#include <string>

#include "estimator/config.h"
#include "estimator/estimate.h"
#include "model/data/csv.h"
#include "model/device.h"
#include "model/engine.h"

namespace latentcast::project {

// device: cpu | cuda | auto (the GPU if there is one); gpu: a preset key ("24gb") or empty;
// capacity: bytes, 0 for the device's own. Throws std::invalid_argument naming the option
// (`option_prefix` + "device", + "gpu") for an unknown device or preset, std::runtime_error when
// CUDA is asked for and absent.
estimator::DeviceSpec target_device(const DeviceReport& report, const std::string& device,
                                    const std::string& gpu, long long capacity,
                                    const std::string& option_prefix = "--");

// Segments (windows x input channels) of the training and validation splits.
estimator::DataSize data_size(const data::Table& table, const DatasetConfig& dataset);

// The request for `config` on `spec`. When the target is this machine (not a preset), the backend
// and the device's SDPA / flash support come from the same availability check as training.
estimator::EstimateRequest estimate_request(const ProjectConfig& config, const DeviceReport& report,
                                            const estimator::DeviceSpec& spec, bool preset,
                                            const estimator::DataSize& data);

// A measurement beside the estimate of the same settings (`predicted`, for the measured device),
// taken at `when` (ISO-8601 local time).
Calibration make_calibration(const engine::MeasureResult& measured,
                             const estimator::Estimate& predicted, const std::string& when);
// Keeps one calibration per device, the latest.
void store_calibration(std::vector<Calibration>& calibrations, const Calibration& c);

}  // namespace latentcast::project
