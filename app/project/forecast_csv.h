// A forecast as CSV, the one format `latentcast-cli forecast` and the GUI's export both write:
// one row per (step, column) with the quantiles, the median and the actual value where known.
#pragma once

#include <string>

#include "model/engine.h"

namespace latentcast::project {

std::string forecast_csv(const engine::Forecast& forecast);

// Writes `text` to `path` through a temporary file and a rename, so a failed write leaves any
// earlier file intact. Throws std::runtime_error naming the file.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace latentcast::project
