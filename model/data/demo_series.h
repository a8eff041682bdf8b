// The built-in demo series: a deterministic synthetic hourly multivariate series, so the
// application runs with no files at all.
#pragma once

#include <cstdint>

#include "model/data/csv.h"

namespace latentcast::data {

// Name used as dataset.path for the generated series.
inline constexpr const char* kDemoDatasetPath = "builtin:demo";

// Hourly rows from 2024-01-01 00:00. Columns "load", "temperature", "price", "wind": each is a sum
// of a daily (24 h) and weekly (168 h) seasonality with its own phase and amplitude, a slow linear
// trend, Gaussian noise (seeded, so the series is identical on every machine), and a regime change
// at 55 % of the rows where the level, trend and daily amplitude shift, as real series do after an
// intervention.
Table make_demo_series(std::int64_t rows = 4000, std::uint64_t seed = 7);

// Writes a table as CSV (header, date column first if any, values with full precision).
void write_csv(const Table& table, const std::string& path);

}  // namespace latentcast::data
