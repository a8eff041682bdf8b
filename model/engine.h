// The torch-free engine interface: what the CLI and the GUI call to train, forecast and evaluate.
// Plain structs and callbacks only; LibTorch stays inside model/.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "estimator/config.h"

namespace latentcast::engine {

// Why the engine stopped a request; the CLI maps kinds to exit codes (DESIGN.md section 7).
enum class ErrorKind { BadInput, Device, OutOfMemory, Internal };

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// One report from the training loop, sent after every optimiser step.
struct Progress {
  std::string stage;      // "vae" (stage 1) or "diffusion" (stage 2)
  std::int64_t step = 0;  // steps done in this stage (the diffusion step continues on resume)
  std::int64_t total_steps = 0;  // of this stage
  std::int64_t epoch = 0;        // passes over the training windows so far (stage 2)
  double loss = 0;               // this step's training loss
  double val_loss = -1;          // last validation loss; -1 before the first validation
  double lr = 0;
  double samples_per_second = 0;  // training windows (images) per second, smoothed
  double eta_seconds = 0;         // time left in this stage at the current speed
  // CUDA: the caching allocator's peaks since the start. CPU: when the counter of
  // model/memory/cpu_memory.h is installed, the peak of LibTorch's CPU bytes above those held when
  // the model stage starts (what the estimate predicts; reserved = allocated); else 0.
  std::int64_t peak_allocated_bytes = 0;
  std::int64_t peak_reserved_bytes = 0;
};

struct Callbacks {
  std::function<void(const Progress&)> on_progress;    // every step
  std::function<void(const std::string&)> on_message;  // events the user should read
  const std::atomic<bool>* stop = nullptr;  // checked every step; true: checkpoint and stop
  // train() announces where it is: "model" once the data is prepared and before the forecaster is
  // built (the training segments are still on the CPU; they move to the device after the call),
  // "vae" before stage 1 (not on resume), "diffusion" before stage 2 and its latent caching.
  std::function<void(const std::string& stage)> on_stage;
};

struct TrainRequest {
  ProjectConfig config;         // validated project (dataset paths absolute)
  std::string run_dir;          // checkpoints and metrics go here (created)
  std::string device = "auto";  // cpu | cuda | auto
  std::int64_t steps = -1;      // overrides training.steps when >= 0
  std::int64_t epochs = -1;     // overrides training.epochs (and sets steps to 0) when >= 1
  std::string resume_from;      // a checkpoint to continue from; empty: a new run
  // > 0: stage 2 raises the engine's out-of-memory error when it reaches this step (1-based, as
  // Progress::step counts), exactly as a real one surfaces; for testing how callers recover.
  std::int64_t simulate_oom_at_step = 0;
};

struct TrainResult {
  RunRecord run;              // to append to the project's history
  double vae_recon_mse = -1;  // stage 1 reconstruction error on validation images
  double best_val_loss = -1;
  std::vector<std::string> messages;  // everything reported through on_message
};

TrainResult train(const TrainRequest& request, const Callbacks& callbacks);

// A short real training run whose memory is measured (DESIGN.md section 4): train() with
// training.vae_steps = training.steps = `steps`, validation at the last step, no early stop, into a
// temporary run directory that is removed afterwards.
struct MeasureRequest {
  ProjectConfig config;         // validated project (dataset paths absolute)
  std::string device = "auto";  // cpu | cuda | auto
  std::int64_t steps = 3;       // steps of each stage (>= 1)
};

// Peaks are bytes above the baseline taken once the data is prepared (on_stage "model"): what the
// model, its training and validation add. CUDA: the caching allocator's peak statistics (allocated:
// live tensors; reserved: what the allocator holds from the driver). CPU: LibTorch's CPU
// allocations counted by model/memory/cpu_memory.h; reserved = allocated there (no caching).
struct MeasureResult {
  std::string device;  // "cpu" or "cuda:0 (NAME)"
  bool cuda = false;
  std::int64_t steps = 0;
  std::int64_t peak_allocated_bytes = 0, peak_reserved_bytes = 0;  // the whole run
  // CUDA: device memory in use outside the caching allocator (cudaMemGetInfo's total - free minus
  // the allocator's reserved bytes): the CUDA context, and the kernels and library handles loaded
  // during the run. The larger of the readings when the model stage starts and when the run ends.
  // 0 on the CPU.
  std::int64_t context_bytes = 0;
  std::int64_t vae_peak_allocated_bytes = 0, diffusion_peak_allocated_bytes = 0;  // per stage
  std::int64_t vae_peak_reserved_bytes = 0, diffusion_peak_reserved_bytes = 0;
  std::vector<std::string> messages;  // everything reported through on_message
};

MeasureResult measure(const MeasureRequest& request, const Callbacks& callbacks);

struct ForecastRequest {
  ProjectConfig config;
  std::string checkpoint;  // best.pt or last.pt of a run
  std::string device = "auto";
  std::int64_t samples = -1;  // overrides forecasting.samples when >= 1
  std::int64_t origin = -1;   // first forecast row; -1: right after the end of the data
  std::uint64_t seed = 0;     // 0: forecasting.seed
};

struct Forecast {
  std::vector<std::string> columns;  // forecast columns (the inputs), C of them
  std::vector<std::int64_t> rows;    // row index of each step (may lie past the data), H of them
  std::vector<std::int64_t> timestamps;  // seconds since the epoch per step; empty without dates
  // [H][C] in the original units.
  std::vector<std::vector<double>> q05, q25, median, q75, q95;
  std::vector<std::vector<double>> actual;  // [H][C] where the data has those rows; empty otherwise
  std::vector<double> history;              // unused by callers that do not plot
};

Forecast forecast(const ForecastRequest& request, const Callbacks& callbacks);

struct Scores {
  std::string model;  // "latentcast", "last_value", "seasonal_naive", "linear"
  double mse = 0, mae = 0, crps = 0;
  double coverage50 = -1, coverage90 = -1;  // -1: a point forecast
};

struct EvaluateRequest {
  ProjectConfig config;
  std::string checkpoint;
  std::string device = "auto";
  std::string split = "test";    // val | test
  std::int64_t samples = -1;     // overrides forecasting.samples when >= 1
  std::int64_t max_windows = 0;  // > 0: evenly spaced subset of the split's windows
};

struct Evaluation {
  std::string split;
  std::int64_t windows = 0;
  std::int64_t samples = 0;
  std::vector<Scores> scores;  // the model first, then the baselines
  double seconds = 0;
};

Evaluation evaluate(const EvaluateRequest& request, const Callbacks& callbacks);

}  // namespace latentcast::engine
