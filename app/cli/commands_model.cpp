// The model commands of latentcast-cli: train, measure, forecast, evaluate (through the torch-free
// engine).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/estimate_input.h"
#include "app/project/estimate_target.h"
#include "app/project/forecast_csv.h"
#include "app/project/project.h"
#include "estimator/estimate.h"
#include "model/data/csv.h"
#include "model/device.h"
#include "model/engine.h"

namespace latentcast::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) {
  g_stop.store(true);
}

// The local time now in a strftime format.
std::string local_time(const char* format) {
  const std::time_t t = std::time(nullptr);
  char buf[48];
  std::strftime(buf, sizeof buf, format, std::localtime(&t));
  return buf;
}

std::string run_id() {
  return local_time("run-%Y%m%d-%H%M%S");
}

std::string hms(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// A progress bar on stderr: redrawn in place on a terminal, a line every 5 % otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(const engine::Progress& p) {
    if (quiet_ || p.total_steps <= 0) return;
    const int percent = static_cast<int>(100 * p.step / p.total_steps);
    if (!tty_ && p.stage == stage_ && percent / 5 == last_percent_ / 5 && p.step != p.total_steps)
      return;
    stage_ = p.stage;
    last_percent_ = percent;
    constexpr int kWidth = 24;
    const int filled = kWidth * percent / 100;
    char val[32] = "";
    if (p.val_loss >= 0) std::snprintf(val, sizeof val, " val %.4f", p.val_loss);
    std::fprintf(stderr, "%s%-9s [%s%s] %3d%% %lld/%lld loss %.4f%s lr %.2e %.0f win/s ETA %s%s",
                 tty_ ? "\r" : "", p.stage.c_str(), std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), percent, static_cast<long long>(p.step),
                 static_cast<long long>(p.total_steps), p.loss, val, p.lr, p.samples_per_second,
                 hms(p.eta_seconds).c_str(), tty_ ? "   " : "\n");
    if (tty_ && p.step == p.total_steps) std::fputc('\n', stderr);
  }
  void message(const std::string& m) {
    if (quiet_) return;
    std::fprintf(stderr, "%s%s\n", tty_ && last_percent_ >= 0 ? "\n" : "", m.c_str());
  }

 private:
  bool quiet_, tty_;
  std::string stage_;
  int last_percent_ = -1;
};

ProjectConfig load_with_overrides(const Args& args) {
  ProjectConfig config = project::load(args.required("--project"));
  project::apply_overrides(config, args.all("--set"));
  return config;
}

// --checkpoint, or the best checkpoint of the project's newest run.
std::string checkpoint_of(const Args& args, const ProjectConfig& config) {
  if (args.has("--checkpoint")) return fs::absolute(args.value("--checkpoint")).string();
  for (auto it = config.runs.rbegin(); it != config.runs.rend(); ++it)
    if (!it->checkpoint_best.empty() && fs::exists(it->checkpoint_best)) return it->checkpoint_best;
  throw UsageError(
      "--checkpoint: the project has no trained run yet (run `latentcast-cli train` first)");
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

int cmd_train(const std::vector<std::string>& argv) {
  const Args args(
      argv, {"--project", "--steps", "--epochs", "--device", "--metrics", "--resume", "--set"},
      {"--quiet"});
  const std::string project_path = args.required("--project");
  engine::TrainRequest request;
  request.config = load_with_overrides(args);
  request.device = args.value("--device", "auto");
  if (args.has("--steps") && args.has("--epochs"))
    throw UsageError("give --steps or --epochs, not both");
  request.steps = args.integer("--steps", -1, 0, 100000000);
  request.epochs = args.integer("--epochs", -1, 1, 1000000);
  if (args.has("--resume")) request.resume_from = fs::absolute(args.value("--resume")).string();
  const fs::path project_file = fs::absolute(project_path);
  const fs::path runs = project_file.parent_path() / (project_file.stem().string() + ".runs");
  std::string id = run_id();
  for (int n = 2; fs::exists(runs / id); ++n) id = run_id() + "-" + std::to_string(n);
  request.run_dir = (runs / id).string();

  std::ofstream metrics;
  if (args.has("--metrics")) {
    metrics.open(args.value("--metrics"), std::ios::out | std::ios::trunc);
    if (!metrics) throw UsageError("--metrics: cannot write " + args.value("--metrics"));
  }
  ProgressBar bar(args.flag("--quiet"));
  const auto started = std::chrono::steady_clock::now();
  engine::Callbacks callbacks;
  callbacks.on_progress = [&](const engine::Progress& p) {
    bar.update(p);
    if (metrics.is_open())
      metrics << json{{"stage", p.stage},
                      {"step", p.step},
                      {"total_steps", p.total_steps},
                      {"epoch", p.epoch},
                      {"loss", p.loss},
                      {"val_loss", p.val_loss < 0 ? json(nullptr) : json(p.val_loss)},
                      {"lr", p.lr},
                      {"samples_per_second", p.samples_per_second},
                      {"peak_allocated_bytes", p.peak_allocated_bytes},
                      {"peak_reserved_bytes", p.peak_reserved_bytes},
                      {"elapsed_seconds",
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                           .count()}}
                     .dump()
              << "\n";
  };
  callbacks.on_message = [&](const std::string& m) { bar.message(m); };
  g_stop.store(false);
  callbacks.stop = &g_stop;
  auto* previous = std::signal(SIGINT, on_interrupt);
  engine::TrainResult result;
  try {
    result = engine::train(request, callbacks);
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);

  if (!result.run.checkpoint_last.empty()) {
    // Record the run in the project as it is on disk (the --set overrides were for this run only).
    ProjectConfig on_disk = project::load(project_path);
    result.run.metrics.emplace_back(
        "seconds",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    on_disk.runs.push_back(result.run);
    project::save(on_disk, project_path);
  }
  std::printf("%s: %s after %lld steps; best %s, last %s\n", result.run.id.c_str(),
              result.run.status.c_str(), static_cast<long long>(result.run.steps),
              result.run.checkpoint_best.c_str(), result.run.checkpoint_last.c_str());
  return kExitOk;
}

// Stores the measurement with the estimate for the same settings in the project (one entry per
// device, the latest), so later estimates for this device report a calibrated figure. The file is
// reloaded so that --set overrides do not end up in it.
void save_calibration(const std::string& path, const engine::MeasureRequest& request,
                      const engine::MeasureResult& m) {
  const EstimateTarget target = estimate_target(request.config, request.device, "", 0);
  const estimator::Estimate e = estimator::estimate_peak(target.request);
  const Calibration c = project::make_calibration(m, e, local_time("%Y-%m-%dT%H:%M:%S"));
  ProjectConfig stored = project::load(path);
  project::store_calibration(stored.calibrations, c);
  project::save(stored, path);
  std::fprintf(stderr, "calibration for %s saved in %s: measured %s reserved, estimated %s\n",
               c.device.c_str(), path.c_str(),
               estimator::format_bytes(c.measured_reserved_bytes).c_str(),
               estimator::format_bytes(c.predicted_reserved_bytes).c_str());
}

int cmd_measure(const std::vector<std::string>& argv) {
  const Args args(argv, {"--project", "--steps", "--device", "--set"}, {"--json", "--no-save"});
  engine::MeasureRequest request;
  request.steps = args.integer("--steps", 3, 1, 100000000);
  request.config = load_with_overrides(args);
  request.device = args.value("--device", "auto");
  const bool as_json = args.flag("--json");
  ProgressBar bar(as_json);
  engine::Callbacks callbacks;
  callbacks.on_progress = [&](const engine::Progress& p) { bar.update(p); };
  callbacks.on_message = [&](const std::string& m) {
    if (as_json)
      std::fprintf(stderr, "%s\n", m.c_str());
    else
      bar.message(m);
  };
  const engine::MeasureResult m = engine::measure(request, callbacks);
  if (!args.flag("--no-save")) save_calibration(args.required("--project"), request, m);
  if (as_json) {
    std::cout << json{{"device", m.device},
                      {"steps", m.steps},
                      {"peak_allocated_bytes", m.peak_allocated_bytes},
                      {"peak_reserved_bytes", m.peak_reserved_bytes},
                      {"context_bytes", m.context_bytes},
                      {"vae_peak_allocated_bytes", m.vae_peak_allocated_bytes},
                      {"diffusion_peak_allocated_bytes", m.diffusion_peak_allocated_bytes},
                      {"vae_peak_reserved_bytes", m.vae_peak_reserved_bytes},
                      {"diffusion_peak_reserved_bytes", m.diffusion_peak_reserved_bytes},
                      {"expandable_segments", m.cuda && cuda_expandable_segments()}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  const auto mib = [](std::int64_t bytes) { return double(bytes) / (1024.0 * 1024.0); };
  std::printf("measured on %s: %lld steps per stage, peaks above the prepared data\n",
              m.device.c_str(), static_cast<long long>(m.steps));
  std::printf("  %-20s %14s %14s\n", "", "allocated MiB", "reserved MiB");
  std::printf("  %-20s %14.1f %14.1f\n", "stage 1 (vae)", mib(m.vae_peak_allocated_bytes),
              mib(m.vae_peak_reserved_bytes));
  std::printf("  %-20s %14.1f %14.1f\n", "stage 2 (diffusion)",
              mib(m.diffusion_peak_allocated_bytes), mib(m.diffusion_peak_reserved_bytes));
  std::printf("  %-20s %14.1f %14.1f\n", "peak", mib(m.peak_allocated_bytes),
              mib(m.peak_reserved_bytes));
  if (m.cuda)
    std::printf("  %-20s %14.1f   (CUDA context and libraries, outside the allocator)\n", "context",
                mib(m.context_bytes));
  else
    std::printf("  (CPU: LibTorch's CPU allocations counted; reserved = allocated)\n");
  return kExitOk;
}

int cmd_forecast(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--project", "--checkpoint", "--samples", "--out", "--origin", "--device",
                   "--seed", "--set"},
                  {});
  engine::ForecastRequest request;
  request.config = load_with_overrides(args);
  request.checkpoint = checkpoint_of(args, request.config);
  request.device = args.value("--device", "auto");
  request.samples = args.integer("--samples", -1, 1, 100000);
  request.origin = args.integer("--origin", -1, 0, std::int64_t(1) << 40);
  request.seed = static_cast<std::uint64_t>(args.integer("--seed", 0, 0, std::int64_t(1) << 62));
  const engine::Forecast fc = engine::forecast(request, {});

  const std::string csv = project::forecast_csv(fc);
  if (!args.has("--out")) {
    std::fputs(csv.c_str(), stdout);
    return kExitOk;
  }
  const std::string out = args.value("--out");
  try {
    project::write_file_atomically(out, csv);
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("--out: ") + e.what());
  }
  std::printf("wrote %s: %zu steps x %zu columns\n", out.c_str(), fc.rows.size(),
              fc.columns.size());
  return kExitOk;
}

int cmd_evaluate(const std::vector<std::string>& argv) {
  const Args args(
      argv,
      {"--project", "--checkpoint", "--split", "--samples", "--max-windows", "--device", "--set"},
      {"--json"});
  engine::EvaluateRequest request;
  request.config = load_with_overrides(args);
  request.checkpoint = checkpoint_of(args, request.config);
  request.device = args.value("--device", "auto");
  request.split = args.value("--split", "test");
  request.samples = args.integer("--samples", -1, 1, 100000);
  request.max_windows = args.integer("--max-windows", 0, 0, std::int64_t(1) << 40);
  const engine::Evaluation ev = engine::evaluate(request, {});
  if (args.flag("--json")) {
    json scores = json::object();
    for (const auto& s : ev.scores) {
      json row = {{"mse", s.mse}, {"mae", s.mae}, {"crps", s.crps}};
      row["coverage_50"] = s.coverage50 < 0 ? json(nullptr) : json(s.coverage50);
      row["coverage_90"] = s.coverage90 < 0 ? json(nullptr) : json(s.coverage90);
      scores[s.model] = row;
    }
    std::cout << json{{"split", ev.split},     {"windows", ev.windows},
                      {"samples", ev.samples}, {"checkpoint", request.checkpoint},
                      {"seconds", ev.seconds}, {"scores", scores}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("%s split: %lld windows, %lld samples each (scaled values)\n", ev.split.c_str(),
              static_cast<long long>(ev.windows), static_cast<long long>(ev.samples));
  std::printf("  %-16s %9s %9s %9s %9s %9s\n", "model", "MSE", "MAE", "CRPS", "cov50", "cov90");
  for (const auto& s : ev.scores) {
    const auto cov = [](double c) {
      return c < 0 ? std::string("-") : fmt(std::round(c * 1000) / 1000);
    };
    std::printf("  %-16s %9.4f %9.4f %9.4f %9s %9s\n", s.model.c_str(), s.mse, s.mae, s.crps,
                cov(s.coverage50).c_str(), cov(s.coverage90).c_str());
  }
  return kExitOk;
}

}  // namespace latentcast::cli
