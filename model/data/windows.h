// Windows of the scaled series as tensors (LibTorch; internal to model/). Shape letters: T rows,
// C channels (input columns), N windows, L lookback, H horizon.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/data/csv.h"
#include "model/data/split.h"

namespace latentcast::data {

// Per-channel z-score, fitted on the training rows only.
struct Scaler {
  torch::Tensor mean;  // [C]
  torch::Tensor std;   // [C], population std; 1 for a constant column (std < 1e-8), as sklearn

  static Scaler fit(const torch::Tensor& train_values);   // [T, C]
  torch::Tensor transform(const torch::Tensor& x) const;  // [..., C]
  torch::Tensor inverse(const torch::Tensor& x) const;    // [..., C]
};

// The named numeric columns of a table as a float32 tensor [T, C].
torch::Tensor table_tensor(const Table& table, const std::vector<std::string>& columns);

struct WindowTensors {
  torch::Tensor history;            // [N, L, C]
  torch::Tensor future;             // [N, H, C]
  std::vector<std::int64_t> start;  // first history row of each window
};

// Every window whose L + H rows lie in `range`, `stride` rows apart, from a [T, C] tensor.
WindowTensors make_windows(const torch::Tensor& values, const RowRange& range, int lookback,
                           int horizon, int stride);

}  // namespace latentcast::data
