// latentcast-bench estimator: the VRAM estimate against the measured peak over a grid of
// configurations (every backend, checkpointing mode and precision, batch sizes, image sizes, two
// widths), with the relative errors and the time one estimate takes.
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "app/bench/bench.h"
#include "app/cli/args.h"
#include "app/cli/estimate_input.h"
#include "app/project/project.h"
#include "estimator/estimate.h"
#include "model/device.h"
#include "model/engine.h"  // MeasureResult

namespace latentcast::bench {
namespace {

using nlohmann::json;

struct GridPoint {
  std::string label;
  std::vector<std::string> sets;  // --set style overrides on top of the base
};

// The CPU grid (CI): small models that measure in about a second each.
std::vector<GridPoint> cpu_grid() {
  const std::vector<std::string> base = {"model.image_size=32",        "model.channels=16,32",
                                         "model.attention_levels=0,1", "model.heads=2",
                                         "memory.batch_size=8",        "model.latent_factor=4"};
  std::vector<GridPoint> grid;
  const auto add = [&](const std::string& label, std::vector<std::string> extra) {
    std::vector<std::string> sets = base;
    sets.insert(sets.end(), extra.begin(), extra.end());
    grid.push_back({label, sets});
  };
  for (const char* b : {"math", "sliced", "flash", "sage", "linear", "channel", "local_window"})
    add(std::string(b), {std::string("memory.attention_backend=") + b});
  add("math ckpt=attention",
      {"memory.attention_backend=math", "memory.gradient_checkpointing=attention"});
  add("math ckpt=all", {"memory.attention_backend=math", "memory.gradient_checkpointing=all"});
  add("flash ckpt=all", {"memory.attention_backend=flash", "memory.gradient_checkpointing=all"});
  add("math B=1", {"memory.attention_backend=math", "memory.batch_size=1"});
  add("math B=32", {"memory.attention_backend=math", "memory.batch_size=32"});
  add("math S=16", {"memory.attention_backend=math", "model.image_size=16"});
  add("math f=2 S=32", {"memory.attention_backend=math", "model.latent_factor=2"});
  add("math wide", {"memory.attention_backend=math", "model.channels=32,64"});
  add("math no cache", {"memory.attention_backend=math", "memory.latent_caching=false"});
  add("math cross", {"memory.attention_backend=math", "model.conditioning=both"});
  add("sliced cross ckpt=all", {"memory.attention_backend=sliced", "model.conditioning=both",
                                "memory.gradient_checkpointing=all"});
  return grid;
}

// The CUDA grid: at least 40 configurations across backends, checkpointing, precisions, batch
// 1..64, image sizes 32..256 and two widths.
std::vector<GridPoint> cuda_grid() {
  std::vector<GridPoint> grid;
  const std::vector<std::string> narrow = {"model.channels=64,128,256", "model.heads=4",
                                           "model.attention_levels=1,2"};
  const std::vector<std::string> wide = {"model.channels=128,256,512", "model.heads=8",
                                         "model.attention_levels=1,2"};
  const auto add = [&](const std::string& label, const std::vector<std::string>& width, int s,
                       int b, const std::string& backend, const std::string& ckpt,
                       const std::string& precision, std::vector<std::string> extra = {}) {
    std::vector<std::string> sets = width;
    sets.push_back("model.image_size=" + std::to_string(s));
    sets.push_back("memory.batch_size=" + std::to_string(b));
    sets.push_back("memory.attention_backend=" + backend);
    sets.push_back("memory.gradient_checkpointing=" + ckpt);
    sets.push_back("memory.precision=" + precision);
    sets.insert(sets.end(), extra.begin(), extra.end());
    grid.push_back({label, sets});
  };
  // Every backend at S=64 and S=128, batch 16 (our flash and sage kernels compute fp32 runs in
  // bf16).
  for (const int s : {64, 128})
    for (const char* b :
         {"math", "sliced", "flash", "sage", "linear", "channel", "local_window", "sdpa"})
      add(std::string(b) + " S=" + std::to_string(s), narrow, s, 16, b, "none", "fp32");
  // Checkpointing x precision at S=128, batch 16, math and sdpa.
  for (const char* b : {"math", "sdpa"})
    for (const char* c : {"none", "attention", "all"})
      for (const char* p : {"fp32", "bf16", "fp16"})
        if (!(std::string(c) == "none" && std::string(p) == "fp32"))
          add(std::string(b) + " ckpt=" + c + " " + p, narrow, 128, 16, b, c, p);
  // Batch sizes 1..64 at S=64.
  for (const int b : {1, 4, 32, 64})
    add("math B=" + std::to_string(b), narrow, 64, b, "math", "none", "fp32");
  // Image sizes 32..256.
  add("sdpa S=32", narrow, 32, 16, "sdpa", "none", "fp32");
  add("sdpa S=256", narrow, 256, 8, "sdpa", "none", "bf16");
  add("math S=256 ckpt=all", narrow, 256, 4, "math", "all", "bf16");
  // The wide model.
  for (const char* p : {"fp32", "bf16"})
    for (const int b : {8, 32})
      add(std::string("wide sdpa B=") + std::to_string(b) + " " + p, wide, 64, b, "sdpa", "none",
          p);
  add("wide math S=128", wide, 128, 8, "math", "attention", "bf16");
  add("wide sliced S=128", wide, 128, 8, "sliced", "all", "fp32");
  add("math no cache", narrow, 64, 16, "math", "none", "fp32", {"memory.latent_caching=false"});
  add("math cross", narrow, 64, 16, "math", "none", "fp32", {"model.conditioning=both"});
  return grid;
}

// Measures one configuration in a fresh latentcast-cli process, as a user's run starts: one-time
// allocations of a process (the cuBLAS workspace, cuDNN handles) land inside the measurement. The
// caching allocator runs with or without expandable segments as asked.
engine::MeasureResult measure_fresh(const std::string& project,
                                    const std::vector<std::string>& sets, const std::string& device,
                                    long long steps, bool expandable) {
  char exe[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, std::size_t(n)) : std::string("latentcast-bench");
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  std::string command = std::string("env -u PYTORCH_ALLOC_CONF PYTORCH_CUDA_ALLOC_CONF=") +
                        "expandable_segments:" + (expandable ? "True" : "False") + " '" + dir +
                        "latentcast-cli' measure --json --project '" + project +
                        "' --no-save --device " + device + " --steps " + std::to_string(steps);
  for (const auto& set : sets) command += " --set '" + set + "'";
  command += " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string text;
  char buf[4096];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, got);
  const int status = pclose(pipe);
  if (status != 0)
    throw std::runtime_error("measure failed (" + std::to_string(status) + "): " + command);
  const json j = json::parse(text);
  engine::MeasureResult m;
  m.device = j.at("device").get<std::string>();
  m.cuda = device != "cpu";
  m.steps = j.at("steps").get<std::int64_t>();
  m.peak_allocated_bytes = j.at("peak_allocated_bytes").get<std::int64_t>();
  m.peak_reserved_bytes = j.at("peak_reserved_bytes").get<std::int64_t>();
  m.context_bytes = j.at("context_bytes").get<std::int64_t>();
  m.vae_peak_allocated_bytes = j.at("vae_peak_allocated_bytes").get<std::int64_t>();
  m.diffusion_peak_allocated_bytes = j.at("diffusion_peak_allocated_bytes").get<std::int64_t>();
  if (m.cuda && j.value("expandable_segments", !expandable) != expandable)
    throw std::runtime_error(std::string("the measuring process did not run the ") +
                             (expandable ? "expandable" : "classic") + " allocator: " + command);
  return m;
}

// The measurements of an earlier run (--json output), to score the current estimator against
// without measuring again (e.g. a CUDA grid on a machine without a GPU).
engine::MeasureResult recorded(const json& row) {
  engine::MeasureResult m;
  m.cuda = true;
  m.peak_allocated_bytes = row.at("measured_allocated_bytes").get<std::int64_t>();
  m.peak_reserved_bytes = row.at("measured_reserved_bytes").get<std::int64_t>();
  m.vae_peak_allocated_bytes = row.at("measured_vae_stage_bytes").get<std::int64_t>();
  m.diffusion_peak_allocated_bytes = row.at("measured_diffusion_stage_bytes").get<std::int64_t>();
  const json& context = row.at("context_bytes");  // null: measured with other processes beside
  m.context_bytes = context.is_null() ? -1 : context.get<std::int64_t>();
  return m;
}

// Runs `measure(i)` for every index in `todo`, `jobs` at a time. Parallel processes share the GPU:
// each one's caching-allocator peaks are its own, but the context figure (cudaMemGetInfo) then
// counts the others too, so it is only meaningful with one job.
template <class F>
void run_parallel(const std::vector<std::size_t>& todo, int jobs, F measure) {
  std::size_t next = 0;
  std::mutex lock;
  std::string first_error;
  const auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        const std::lock_guard<std::mutex> hold(lock);
        if (next == todo.size() || !first_error.empty()) return;
        i = todo[next++];
      }
      try {
        measure(i);
      } catch (const std::exception& e) {
        const std::lock_guard<std::mutex> hold(lock);
        if (first_error.empty()) first_error = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < std::max(1, jobs); ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (!first_error.empty()) throw std::runtime_error(first_error);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int bench_estimator(int argc, char** argv) {
  try {
    const cli::Args args(std::vector<std::string>(argv + 1, argv + argc),
                         {"--project", "--device", "--steps", "--max-error", "--only", "--recorded",
                          "--allocator", "--jobs"},
                         {"--json"});
    const std::string device = args.value("--device", "cpu");
    // The CUDA caching allocator's mode, measured and predicted: expandable segments (Latentcast's
    // setting, model/device.h) or classic (one cudaMalloc per segment).
    const std::string allocator =
        args.value("--allocator", cuda_expandable_segments() ? "expandable" : "classic");
    if (allocator != "expandable" && allocator != "classic")
      throw cli::UsageError("--allocator: expected expandable or classic, got '" + allocator + "'");
    const bool expandable = allocator == "expandable";
    const int jobs = static_cast<int>(args.integer("--jobs", 1, 1, 64));
    const long long steps = args.integer("--steps", 2, 1, 100);
    const double max_error = std::stod(args.value("--max-error", "0"));
    const ProjectConfig base = project::load(args.required("--project"));
    std::vector<GridPoint> grid = device == "cpu" ? cpu_grid() : cuda_grid();
    const std::string only = args.value("--only");
    json recording;
    if (args.has("--recorded")) {
      std::ifstream in(args.value("--recorded"));
      if (!in) throw cli::UsageError("--recorded: cannot read " + args.value("--recorded"));
      recording = json::parse(in).at("configurations");
      grid.clear();
      for (const auto& row : recording)
        grid.push_back({row.at("configuration").get<std::string>(),
                        row.at("sets").get<std::vector<std::string>>()});
    }

    // Measure first (in parallel with --jobs), then estimate and print in grid order.
    std::vector<std::size_t> todo;
    for (std::size_t index = 0; index < grid.size(); ++index)
      if (only.empty() || grid[index].label.find(only) != std::string::npos) todo.push_back(index);
    std::vector<engine::MeasureResult> measured(grid.size());
    const auto mode_of = [&](std::size_t index) {
      // Recordings before the allocator setting existed (2026-12-02) ran the classic allocator.
      return recording.is_null() ? expandable
                                 : recording[index].value("expandable_segments", false);
    };
    if (recording.is_null())
      run_parallel(todo, jobs, [&](std::size_t i) {
        measured[i] =
            measure_fresh(args.required("--project"), grid[i].sets, device, steps, expandable);
      });
    else
      for (const std::size_t i : todo) measured[i] = recorded(recording[i]);

    json rows = json::array();
    std::vector<double> err_alloc, err_reserved;
    double worst = 0, worst_under = 0, estimate_us_max = 0;
    std::vector<double> peak_us;
    std::fprintf(stderr, "%-28s %11s %11s %7s %11s %11s %7s %9s\n", "configuration", "pred alloc",
                 "meas alloc", "err", "pred resv", "meas resv", "err", "est [us]");
    std::fprintf(stderr, "(MiB; est: one estimate, without savings)\n");
    for (const std::size_t index : todo) {
      const GridPoint& point = grid[index];
      ProjectConfig config = base;
      project::apply_overrides(config, point.sets);
      cli::EstimateTarget target;
      if (recording.is_null()) {
        target = cli::estimate_target(config, device, "", 0);
        target.request.device.expandable_segments = expandable;
      } else {                        // the recorded CUDA device, and the backend it resolved
        ProjectConfig here = config;  // this machine only supplies the data sizes
        here.memory.attention_backend = AttentionBackend::Math;
        target = cli::estimate_target(here, "cpu", "", 0);
        target.request.config = config;
        estimator::DeviceSpec& d = target.request.device;
        d.cuda = true;
        d.name = "recorded CUDA device";
        d.sdpa = true;
        d.flash_kernel = false;
        d.expandable_segments = mode_of(index);
        target.request.backend = *enum_from_string<AttentionBackend>(
            recording[index].at("attention_backend").get<std::string>());
      }
      const estimator::Estimate e = estimator::estimate(target.request);
      // Time of one estimate (one replay), and of one with the savings (a replay per active
      // option): what the GUI pays per change.
      const auto time_us = [&](auto&& f) {
        const int reps = 20;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) f();
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                   .count() /
               reps;
      };
      const double us_peak = time_us([&] { (void)estimator::estimate_peak(target.request); });
      const double us = time_us([&] { (void)estimator::estimate(target.request); });
      estimate_us_max = std::max(estimate_us_max, us);
      peak_us.push_back(us_peak);

      const engine::MeasureResult& m = measured[index];
      const bool cuda = m.cuda;
      const double ea = double(e.allocated_bytes - m.peak_allocated_bytes) /
                        double(std::max<std::int64_t>(1, m.peak_allocated_bytes));
      const double er = double(e.reserved_bytes - m.peak_reserved_bytes) /
                        double(std::max<std::int64_t>(1, m.peak_reserved_bytes));
      const double judged = cuda ? er : ea;
      err_alloc.push_back(std::fabs(ea));
      err_reserved.push_back(std::fabs(er));
      worst = std::max(worst, std::fabs(judged));
      worst_under = std::min(worst_under, judged);
      std::fprintf(stderr, "%-28s %11.1f %11.1f %+6.1f%% %11.1f %11.1f %+6.1f%% %9.0f\n",
                   point.label.c_str(), e.allocated_bytes / 1048576.0,
                   m.peak_allocated_bytes / 1048576.0, 100 * ea, e.reserved_bytes / 1048576.0,
                   m.peak_reserved_bytes / 1048576.0, 100 * er, us_peak);
      rows.push_back({{"configuration", point.label},
                      {"sets", point.sets},
                      {"attention_backend", to_string(e.backend)},
                      {"expandable_segments", mode_of(index)},
                      {"predicted_allocated_bytes", e.allocated_bytes},
                      {"measured_allocated_bytes", m.peak_allocated_bytes},
                      {"predicted_reserved_bytes", e.reserved_bytes},
                      {"measured_reserved_bytes", m.peak_reserved_bytes},
                      {"predicted_vae_stage_bytes", e.vae_stage_bytes},
                      {"measured_vae_stage_bytes", m.vae_peak_allocated_bytes},
                      {"predicted_diffusion_stage_bytes", e.diffusion_stage_bytes},
                      {"measured_diffusion_stage_bytes", m.diffusion_peak_allocated_bytes},
                      // With --jobs > 1, cudaMemGetInfo also counted the other processes.
                      {"context_bytes",
                       jobs > 1 && recording.is_null() ? json(nullptr) : json(m.context_bytes)},
                      {"error_allocated", ea},
                      {"error_reserved", er},
                      {"peak_phase", e.peak_phase},
                      {"estimate_microseconds", us_peak},
                      {"estimate_with_savings_microseconds", us}});
    }
    std::fprintf(
        stderr,
        "\n%zu configurations on %s: |error| allocated median %.2f %% max %.2f %%; "
        "reserved median %.2f %% max %.2f %%; worst under-prediction %.2f %%; one "
        "estimate: median %.0f us, max %.0f us (with savings <= %.0f us)\n",
        rows.size(), recording.is_null() ? device.c_str() : "cuda (recorded)",
        100 * median(err_alloc),
        100 * (err_alloc.empty() ? 0 : *std::max_element(err_alloc.begin(), err_alloc.end())),
        100 * median(err_reserved),
        100 * (err_reserved.empty() ? 0
                                    : *std::max_element(err_reserved.begin(), err_reserved.end())),
        100 * worst_under, median(peak_us),
        peak_us.empty() ? 0.0 : *std::max_element(peak_us.begin(), peak_us.end()), estimate_us_max);
    if (args.flag("--json"))
      std::cout << json{{"device", device},
                        {"allocator", recording.is_null() ? allocator : "as recorded"},
                        {"jobs", jobs},
                        {"steps", steps},
                        {"configurations", rows},
                        {"median_abs_error_allocated", median(err_alloc)},
                        {"median_abs_error_reserved", median(err_reserved)},
                        {"worst_under_prediction", worst_under},
                        {"median_estimate_microseconds", median(peak_us)},
                        {"max_estimate_with_savings_microseconds", estimate_us_max}}
                       .dump(2)
                << "\n";
    if (max_error > 0 && worst > max_error) {
      std::fprintf(stderr, "FAILED: an error of %.2f %% exceeds --max-error %.2f %%\n", 100 * worst,
                   100 * max_error);
      return 1;
    }
    return 0;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "latentcast-bench estimator: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latentcast-bench estimator: %s\n", e.what());
    return 2;
  }
}

}  // namespace latentcast::bench
