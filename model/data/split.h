// Row ranges of the train / validation / test splits, identical in training, evaluation and the
// GUI.
#pragma once

#include <cstdint>
#include <string>

#include "estimator/config.h"

namespace latentcast::data {

// Half-open row range [begin, end).
struct RowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// Validation and test ranges start `lookback` rows before their first forecast row, so every
// forecast row of a split is predicted from history that precedes it (the convention of the ETT
// benchmarks).
struct SplitRows {
  RowRange train, val, test;
};

// ratio: train = first round(train*rows) rows, val the next round(val*rows), test the rest.
// ett: train [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400) (12/4/4 months of hourly
// rows); needs at least 14400 rows. Throws std::invalid_argument naming the problem when a split
// would hold no complete window of lookback + horizon rows.
SplitRows compute_split(std::int64_t rows, const SplitConfig& split, int lookback, int horizon);

// Windows of lookback + horizon rows whose forecast rows lie in `range`, `stride` rows apart.
std::int64_t window_count(const RowRange& range, int lookback, int horizon, int stride);

}  // namespace latentcast::data
