// Split arithmetic shared by every consumer of the dataset.
#include "model/data/split.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace latentcast::data {
namespace {

constexpr std::int64_t kEttTrainEnd = 12 * 30 * 24;           // 8640
constexpr std::int64_t kEttValEnd = (12 + 4) * 30 * 24;       // 11520
constexpr std::int64_t kEttTestEnd = (12 + 4 + 4) * 30 * 24;  // 14400

void require_window(const char* name, const RowRange& r, int lookback, int horizon) {
  if (r.size() < std::int64_t(lookback) + horizon)
    throw std::invalid_argument(std::string("dataset.split: the ") + name + " split has " +
                                std::to_string(r.size()) +
                                " rows, fewer than lookback + horizon = " +
                                std::to_string(std::int64_t(lookback) + horizon));
}

}  // namespace

SplitRows compute_split(std::int64_t rows, const SplitConfig& split, int lookback, int horizon) {
  if (lookback < 1 || horizon < 1)
    throw std::invalid_argument("dataset.lookback and dataset.horizon must be >= 1");
  SplitRows s;
  if (split.mode == SplitMode::Ett) {
    if (rows < kEttTestEnd)
      throw std::invalid_argument("dataset.split.mode: ett needs at least " +
                                  std::to_string(kEttTestEnd) + " rows, the data has " +
                                  std::to_string(rows));
    s.train = {0, kEttTrainEnd};
    s.val = {kEttTrainEnd - lookback, kEttValEnd};
    s.test = {kEttValEnd - lookback, kEttTestEnd};
  } else {
    const auto train_end = static_cast<std::int64_t>(std::llround(split.train * double(rows)));
    const auto val_end =
        train_end + static_cast<std::int64_t>(std::llround(split.val * double(rows)));
    s.train = {0, train_end};
    s.val = {std::max<std::int64_t>(0, train_end - lookback), val_end};
    s.test = {std::max<std::int64_t>(0, val_end - lookback), rows};
  }
  require_window("train", s.train, lookback, horizon);
  if (split.mode == SplitMode::Ett || split.val > 0)
    require_window("validation", s.val, lookback, horizon);
  require_window("test", s.test, lookback, horizon);
  return s;
}

std::int64_t window_count(const RowRange& range, int lookback, int horizon, int stride) {
  const std::int64_t span = std::int64_t(lookback) + horizon;
  if (range.size() < span || stride < 1) return 0;
  return (range.size() - span) / stride + 1;
}

}  // namespace latentcast::data
