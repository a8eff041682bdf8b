#include "app/cli/estimate_input.h"

#include <stdexcept>

#include "app/cli/args.h"
#include "app/project/estimate_target.h"
#include "model/data/dataset.h"

namespace latentcast::cli {

EstimateTarget estimate_target(const ProjectConfig& config, const std::string& device,
                               const std::string& gpu, long long capacity) {
  const DeviceReport report = detect_devices();
  estimator::DeviceSpec spec;
  try {
    spec = project::target_device(report, device, gpu, capacity);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  // Segments = windows x input channels, from the dataset itself.
  const data::Table table = data::load_table(config.dataset);
  data::check_columns(table, config.dataset);
  EstimateTarget t;
  t.request = project::estimate_request(config, report, spec, !gpu.empty(),
                                        project::data_size(table, config.dataset));
  return t;
}

}  // namespace latentcast::cli
