// engine::measure: a short real training run (both stages, validation included) whose memory is
// read per stage: on CUDA from the caching allocator's statistics and cudaMemGetInfo, on the CPU
// from the counting allocator of model/memory/cpu_memory.h (DESIGN.md section 4).
#include <ftw.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model/engine_internal.h"
#include "model/memory/cpu_memory.h"

#if LATENTCAST_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace latentcast::engine {
namespace {

using detail::DeviceChoice;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when the measurement
// ends (also when it fails). POSIX on purpose: the LibTorch of the PyTorch wheels (seen with 2.11)
// exports its own std::filesystem, and its remove_all, which interposes libstdc++'s, jumps to a
// null address on a non-empty directory.
class TemporaryRunDir {
 public:
  TemporaryRunDir() {
    const char* base = std::getenv("TMPDIR");
    const std::string folder = base && *base ? base : "/tmp";
    std::string name = folder + "/latentcast-measure-XXXXXX";
    if (!mkdtemp(name.data()))
      throw EngineError(ErrorKind::BadInput, "cannot create a temporary run directory in " +
                                                 folder + ": " + std::strerror(errno) +
                                                 " (set TMPDIR to a writable folder)");
    path_ = name;
  }
  ~TemporaryRunDir() {
    nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);  // children first
  }
  TemporaryRunDir(const TemporaryRunDir&) = delete;
  TemporaryRunDir& operator=(const TemporaryRunDir&) = delete;
  const std::string& string() const { return path_; }

 private:
  static int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    std::remove(path);  // a file, or a directory already emptied
    return 0;           // go on with the others
  }

  std::string path_;
};

struct Peak {
  std::int64_t allocated = 0, reserved = 0;
};

// Follows train()'s on_stage announcements: the baseline is taken at "model", and each stage's
// peak (above the baseline) is read when the next stage starts or the run ends.
class Meter {
 public:
  explicit Meter(const DeviceChoice& device) : device_(device) {
    if (!device_.on_cuda) memory::install_cpu_counter();
  }

  void stage(const std::string& name) {
    if (name == "model") {
      start();
      current_ = &model_;
      return;
    }
    if (!started_) return;
    close();
    current_ = name == "vae" ? &vae_ : name == "diffusion" ? &diffusion_ : &model_;
    reset_peak();
  }

  // Reads the peak of the stage that is running when the run ends, and the context again: the
  // libraries load their kernels and handles during the run, after the first reading.
  void finish() {
    if (!started_) return;
    close();
    context_end_ = context_now();
  }

  bool started() const { return started_; }
  const Peak& vae() const { return vae_; }
  const Peak& diffusion() const { return diffusion_; }
  Peak overall() const {
    return {std::max({model_.allocated, vae_.allocated, diffusion_.allocated}),
            std::max({model_.reserved, vae_.reserved, diffusion_.reserved})};
  }
  // CUDA: device memory in use outside the caching allocator when the model stage started and
  // when the run ended (-1 where it could not be read; 0 on the CPU).
  std::int64_t context_at_start() const { return context_start_; }
  std::int64_t context_at_end() const { return context_end_; }

 private:
  void start() {
    started_ = true;
#if LATENTCAST_WITH_CUDA
    if (device_.on_cuda) {
      namespace alloc = c10::cuda::CUDACachingAllocator;
      const int index = device_.device.index();
      alloc::emptyCache();  // the baseline holds no cached blocks of earlier work
      const auto stats = alloc::getDeviceStats(index);
      baseline_.allocated = stats.allocated_bytes[0].current;
      baseline_.reserved = stats.reserved_bytes[0].current;
      context_start_ = context_now();
      alloc::resetPeakStats(index);
      return;
    }
#endif
    baseline_.allocated = baseline_.reserved = memory::cpu_current_bytes();
    memory::reset_cpu_peak();
  }

  // Device memory in use (cudaMemGetInfo: total - free) minus what the caching allocator holds.
  std::int64_t context_now() const {
#if LATENTCAST_WITH_CUDA
    if (device_.on_cuda) {
      const int index = device_.device.index();
      const std::int64_t reserved =
          c10::cuda::CUDACachingAllocator::getDeviceStats(index).reserved_bytes[0].current;
      std::size_t free_b = 0, total_b = 0;
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(index);
      const cudaError_t status = cudaMemGetInfo(&free_b, &total_b);
      cudaSetDevice(previous);
      if (status != cudaSuccess) {
        cudaGetLastError();  // leave no sticky error behind
        return -1;
      }
      return std::max<std::int64_t>(0, std::int64_t(total_b - free_b) - reserved);
    }
#endif
    return 0;
  }

  Peak peak_now() const {
#if LATENTCAST_WITH_CUDA
    if (device_.on_cuda) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_.device.index());
      return {stats.allocated_bytes[0].peak - baseline_.allocated,
              stats.reserved_bytes[0].peak - baseline_.reserved};
    }
#endif
    const std::int64_t peak = memory::cpu_peak_bytes() - baseline_.allocated;
    return {peak, peak};  // no caching allocator on the CPU: reserved = allocated
  }

  void reset_peak() {
#if LATENTCAST_WITH_CUDA
    if (device_.on_cuda) {
      c10::cuda::CUDACachingAllocator::resetPeakStats(device_.device.index());
      return;
    }
#endif
    memory::reset_cpu_peak();
  }

  void close() {
    const Peak p = peak_now();
    current_->allocated = std::max(current_->allocated, p.allocated);
    current_->reserved = std::max(current_->reserved, p.reserved);
  }

  const DeviceChoice& device_;
  bool started_ = false;
  Peak baseline_, model_, vae_, diffusion_;
  Peak* current_ = &model_;
  std::int64_t context_start_ = 0, context_end_ = 0;
};

}  // namespace

MeasureResult measure(const MeasureRequest& request, const Callbacks& callbacks) {
  if (request.steps < 1 || request.steps > 100000000)
    throw EngineError(
        ErrorKind::BadInput,
        "--steps: must be an integer >= 1 and <= 100000000, got " + std::to_string(request.steps));
  const DeviceChoice dev = detail::choose_device(request.device);
  MeasureResult result;
  result.device = dev.description;
  result.cuda = dev.on_cuda;
  result.steps = request.steps;

  const TemporaryRunDir run_dir;
  TrainRequest train_request;
  train_request.config = request.config;
  TrainingConfig& tc = train_request.config.training;
  tc.vae_steps = static_cast<int>(request.steps);
  tc.steps = static_cast<int>(request.steps);
  tc.epochs = 0;
  tc.validate_every = static_cast<int>(request.steps);
  tc.early_stop_patience = 0;
  train_request.device = dev.on_cuda ? "cuda" : "cpu";
  train_request.steps = request.steps;
  train_request.run_dir = run_dir.string();

  Meter meter(dev);
  Callbacks inner = callbacks;
  inner.on_stage = [&](const std::string& stage) {
    meter.stage(stage);
    if (callbacks.on_stage) callbacks.on_stage(stage);
  };
  TrainResult trained;
  detail::translate_errors([&] {
    trained = train(train_request, inner);
    meter.finish();
  });
  result.messages = trained.messages;
  if (!meter.started())
    throw EngineError(ErrorKind::Internal,
                      "measure: the training run never reached the model stage");
  if (trained.run.status != "completed") {
    const std::string m = "the run was " + trained.run.status +
                          " before the end; the peaks cover only the part that ran";
    result.messages.push_back(m);
    if (callbacks.on_message) callbacks.on_message(m);
  }

  const Peak overall = meter.overall();
  result.peak_allocated_bytes = overall.allocated;
  result.peak_reserved_bytes = overall.reserved;
  result.vae_peak_allocated_bytes = meter.vae().allocated;
  result.vae_peak_reserved_bytes = meter.vae().reserved;
  result.diffusion_peak_allocated_bytes = meter.diffusion().allocated;
  result.diffusion_peak_reserved_bytes = meter.diffusion().reserved;
  result.context_bytes =
      std::max<std::int64_t>(0, std::max(meter.context_at_start(), meter.context_at_end()));
  if (dev.on_cuda) {
    const auto mib = [](std::int64_t b) { return std::to_string((b + (1 << 19)) >> 20); };
    const std::string m =
        "CUDA memory outside the caching allocator: " + mib(meter.context_at_start()) +
        " MiB when the model stage started, " + mib(meter.context_at_end()) +
        " MiB at the end (kernels and library handles loaded during the run)";
    result.messages.push_back(m);
    if (callbacks.on_message) callbacks.on_message(m);
  }
  return result;
}

}  // namespace latentcast::engine
