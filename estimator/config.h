// Plain configuration types shared by every layer: what a project sets, with no IO and no
// framework. The estimator reads them, the model builds from them, the project document
// (app/project) stores them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace latentcast {

enum class AttentionBackend { Math, Sliced, Flash, Sage, Linear, Channel, LocalWindow, Sdpa, Auto };
enum class CheckpointMode { None, Attention, All };
enum class Precision { Fp32, Bf16, Fp16 };
enum class Conditioning { Concat, CrossAttention, Both };
enum class Prediction { Epsilon, V };
enum class NoiseSchedule { Linear, Cosine };
enum class Sampler { Ddpm, Ddim };
enum class SplitMode { Ratio, Ett };
enum class MissingPolicy { Reject, FillForward };

// Name <-> enum, using exactly the spellings of the project file (e.g. "local_window", "bf16").
// from_string returns nullopt for an unknown name; allowed_names lists the spellings for messages.
const char* to_string(AttentionBackend v);
const char* to_string(CheckpointMode v);
const char* to_string(Precision v);
const char* to_string(Conditioning v);
const char* to_string(Prediction v);
const char* to_string(NoiseSchedule v);
const char* to_string(Sampler v);
const char* to_string(SplitMode v);
const char* to_string(MissingPolicy v);

template <class E>
std::optional<E> enum_from_string(const std::string& name);
template <class E>
const std::vector<std::string>& enum_names();

struct SplitConfig {
  SplitMode mode = SplitMode::Ratio;  // ratio: fractions below; ett: 12/4/4 months of hourly rows
  double train = 0.7;                 // fraction of rows for training (ratio mode)
  double val = 0.1;                   // fraction for validation; the rest is test
};

struct DatasetConfig {
  std::string path;                         // CSV file, absolute in memory, relative in the file
  std::vector<std::string> columns;         // numeric columns used as model input (empty: all)
  std::vector<std::string> target_columns;  // columns forecast (empty: all input columns)
  std::string date_column;                  // empty: none
  MissingPolicy missing = MissingPolicy::Reject;
  SplitConfig split;
  int lookback = 96;  // L, rows of history per window
  int horizon = 96;   // H, rows forecast per window
  int stride = 1;     // rows between consecutive training windows
};

struct ModelConfig {
  int image_size = 64;                         // S, side of each view image
  int latent_factor = 4;                       // f, VAE downsampling (S / f = latent side)
  int latent_channels = 4;                     // c, VAE latent channels
  std::vector<int> channels = {64, 128, 256};  // UNet channels per level
  std::vector<int> attention_levels = {1, 2};  // UNet levels (0-based) with self-attention
  int heads = 4;                               // attention heads
  double dropout = 0.1;                        // dropout in residual blocks
  Conditioning conditioning = Conditioning::Concat;
  Prediction prediction = Prediction::Epsilon;
  NoiseSchedule noise_schedule = NoiseSchedule::Cosine;
  int diffusion_steps = 1000;  // T, training timesteps
  int period = 0;              // SEG folding period; 0 = from the FFT peak
};

struct MemoryConfig {
  AttentionBackend attention_backend = AttentionBackend::Auto;
  CheckpointMode gradient_checkpointing = CheckpointMode::None;
  Precision precision = Precision::Fp32;
  int batch_size = 32;
  bool latent_caching = true;  // encode every window once with the frozen VAE
  int slice_size = 1024;       // queries per slice for the sliced backend
  int window_size = 8;         // w, local window side in tokens
  int window_overlap = 2;      // o, overlap between neighbouring windows in tokens
};

struct TrainingConfig {
  int vae_steps = 2000;  // stage 1 optimiser steps
  int steps = 10000;     // stage 2 optimiser steps (0: use epochs)
  int epochs = 0;        // stage 2 epochs when steps is 0
  double learning_rate = 2e-4;
  double weight_decay = 0.01;
  int warmup_steps = 500;
  double ema_decay = 0.999;
  int ema_warmup_steps = 1000;
  double grad_clip = 1.0;
  int early_stop_patience = 10;  // validations without improvement before stopping; 0 = never
  int validate_every = 500;      // steps between validation passes
  std::uint64_t seed = 42;
};

struct ForecastConfig {
  int samples = 50;  // K, samples per window
  Sampler sampler = Sampler::Ddim;
  int steps = 50;    // sampler steps
  double eta = 0.0;  // DDIM stochasticity (0 = deterministic)
  std::uint64_t seed = 1234;
};

// One training run as remembered by the project.
struct RunRecord {
  std::string id;               // e.g. "run-20261122-101500"
  std::string started;          // ISO-8601 local time
  std::string finished;         // empty while running or when interrupted
  std::string device;           // "cpu" or "cuda:0 (NVIDIA H100 ...)"
  std::string status;           // completed | stopped | failed | out_of_memory
  std::int64_t steps = 0;       // optimiser steps done
  std::string checkpoint_best;  // paths, absolute in memory, relative in the file
  std::string checkpoint_last;
  std::int64_t peak_allocated_bytes = 0;
  std::int64_t peak_reserved_bytes = 0;
  std::vector<std::pair<std::string, double>> metrics;  // name -> value, in file order
  // What the GUI plots again when the project is reopened: name -> one value per recorded step,
  // all of one length ("step", "loss", "val_loss", "lr", "peak_allocated_bytes", ...), thinned to a
  // few thousand points. NaN where a value is not known yet (null in the file). Empty from the CLI.
  std::vector<std::pair<std::string, std::vector<double>>> curves;
};

// A measured peak of this project's training on one device (latentcast-cli measure), kept with
// the estimate made for the same settings: their ratio calibrates later estimates for that device.
struct Calibration {
  std::string device;    // as the measurement names it, e.g. "cuda:0 (NVIDIA H200)" or "cpu"
  std::string measured;  // ISO-8601 local time
  std::int64_t steps = 0;
  std::int64_t measured_allocated_bytes = 0;
  std::int64_t measured_reserved_bytes = 0;
  std::int64_t context_bytes = 0;  // CUDA context and libraries (0 on the CPU)
  std::int64_t predicted_allocated_bytes = 0;
  std::int64_t predicted_reserved_bytes = 0;
  // CUDA: the caching allocator's mode during the measurement, "expandable" or "classic" (empty,
  // as in files from before the setting existed: classic). Empty on the CPU.
  std::string allocator;
};

struct ProjectConfig {
  std::string name = "untitled";
  DatasetConfig dataset;
  ModelConfig model;
  MemoryConfig memory;
  TrainingConfig training;
  ForecastConfig forecasting;
  std::vector<RunRecord> runs;
  std::vector<Calibration> calibrations;  // at most one per device, the latest
};

}  // namespace latentcast
