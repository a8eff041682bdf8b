// The attention benchmark: same inputs for every backend, the median of repeated calls, peak extra
// memory from the counting allocator (CPU) or the caching allocator (CUDA), error against math in
// float32.
#include "model/attention/bench.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <stdexcept>

#include "model/attention/attention.h"
#include "model/attention/availability.h"
#include "model/device.h"
#include "model/memory/cpu_memory.h"

#if LATENTCAST_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace latentcast::bench {
namespace {

using Fn =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "float64") return torch::kFloat64;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  throw std::invalid_argument("--dtype: must be float32, float64, bfloat16 or float16, got \"" +
                              name + "\"");
}

class Memory {
 public:
  explicit Memory(torch::Device device) : device_(device) {
    if (!device.is_cuda()) memory::install_cpu_counter();
  }
  std::int64_t current() const {
#if LATENTCAST_WITH_CUDA
    if (device_.is_cuda())
      return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index())
          .allocated_bytes[0]
          .current;
#endif
    return memory::cpu_current_bytes();
  }
  std::int64_t peak() const {
#if LATENTCAST_WITH_CUDA
    if (device_.is_cuda())
      return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index())
          .allocated_bytes[0]
          .peak;
#endif
    return memory::cpu_peak_bytes();
  }
  void reset_peak() const {
#if LATENTCAST_WITH_CUDA
    if (device_.is_cuda()) {
      c10::cuda::CUDACachingAllocator::resetPeakStats(device_.index());
      return;
    }
#endif
    memory::reset_cpu_peak();
  }

 private:
  torch::Device device_;
};

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// The grid a local-window run folds N tokens into: the divisor of N closest to its square root.
std::pair<std::int64_t, std::int64_t> grid_of(std::int64_t n) {
  std::int64_t h = static_cast<std::int64_t>(std::sqrt(double(n)));
  while (h > 1 && n % h != 0) --h;
  return {h, n / h};
}

#if TORCH_VERSION_MAJOR >= 2
// LibTorch's SDPA with one of its backends allowed; the others are switched off for the call.
Fn pinned_sdpa(const std::string& which) {
  return [which](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
    auto& ctx = at::globalContext();
    const bool flash = ctx.userEnabledFlashSDP(), eff = ctx.userEnabledMemEfficientSDP(),
               math = ctx.userEnabledMathSDP(), cudnn = ctx.userEnabledCuDNNSDP();
    ctx.setSDPUseFlash(which == "flash");
    ctx.setSDPUseMemEfficient(which == "efficient");
    ctx.setSDPUseMath(which == "math");
    ctx.setSDPUseCuDNN(which == "cudnn");
    struct Restore {
      at::Context& ctx;
      bool flash, eff, math, cudnn;
      ~Restore() {
        ctx.setSDPUseFlash(flash);
        ctx.setSDPUseMemEfficient(eff);
        ctx.setSDPUseMath(math);
        ctx.setSDPUseCuDNN(cudnn);
      }
    } restore{ctx, flash, eff, math, cudnn};
    return at::scaled_dot_product_attention(q, k, v);
  };
}
#endif

struct Candidate {
  std::string name;
  Fn fn;
  std::string unavailable;  // non-empty: why it cannot run here
  bool comparable = true;   // computes softmax attention (exactly, or sage's approximation)
};

std::vector<Candidate> candidates(const AttentionBenchOptions& o, const DeviceReport& report,
                                  bool on_cuda, const AttentionShape& shape, torch::Device device) {
  std::vector<std::string> names = o.backends;
  if (names.empty()) {
    names = {"math", "sliced", "flash", "sage", "linear", "channel", "local_window"};
    if (on_cuda) {
      for (const char* s : {"sdpa_flash", "sdpa_efficient", "sdpa_cudnn", "sdpa_math"})
        names.push_back(s);
    } else {
      names.push_back("sdpa");
    }
  }
  std::vector<Candidate> out;
  for (const auto& name : names) {
    Candidate c{name, {}, "", true};
    if (name.rfind("sdpa_", 0) == 0) {
#if TORCH_VERSION_MAJOR >= 2
      const std::string which = name.substr(5);
      if (which != "flash" && which != "efficient" && which != "cudnn" && which != "math")
        throw std::invalid_argument("--backends: unknown SDPA backend \"" + name + "\"");
      c.fn = pinned_sdpa(which);
#else
      c.unavailable = "needs LibTorch >= 2.0";
#endif
      out.push_back(std::move(c));
      continue;
    }
    const auto backend = enum_from_string<AttentionBackend>(name);
    if (!backend || *backend == AttentionBackend::Auto)
      throw std::invalid_argument("--backends: unknown backend \"" + name + "\"");
    const Availability a =
        backend_availability(*backend, report, on_cuda, static_cast<int>(shape.head_dim));
    if (!a.available) c.unavailable = a.reason;
    AttentionSettings settings;
    settings.backend = *backend;
    settings.slice_size = o.slice_size;
    settings.window_size = o.window_size;
    settings.window_overlap = o.window_overlap;
    AttentionLayout layout;
    std::tie(layout.height, layout.width) = grid_of(shape.tokens);
    layout.temperature = torch::ones({shape.heads}, torch::TensorOptions().device(device));
    c.fn = [settings, layout](const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v) {
      return attention(q, k, v, settings, layout);
    };
    c.comparable = is_exact(*backend) || *backend == AttentionBackend::Sage;
    out.push_back(std::move(c));
  }
  return out;
}

bool is_out_of_memory(const std::exception& e) {
  return std::string(e.what()).find("out of memory") != std::string::npos;
}

}  // namespace

int intra_op_threads() {
  return at::get_num_threads();
}

std::vector<AttentionBenchRow> run_attention_bench(
    const AttentionBenchOptions& o, const std::function<void(const AttentionBenchRow&)>& on_row) {
  if (o.device != "cpu" && o.device != "cuda")
    throw std::invalid_argument("--device: must be cpu or cuda, got \"" + o.device + "\"");
  const bool on_cuda = o.device == "cuda";
  const DeviceReport report = detect_devices();
  if (on_cuda && !report.cuda_available)
    throw std::invalid_argument("--device cuda: " + report.reason);
  const torch::Device device =
      on_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  const Memory memory(device);
  std::vector<AttentionBenchRow> rows;

  for (const auto& shape : o.shapes) {
    const auto list = candidates(o, report, on_cuda, shape, device);
    for (const auto& dtype_name : o.dtypes) {
      const torch::Dtype dtype = parse_dtype(dtype_name);
      torch::manual_seed(0);
      const auto opts = torch::TensorOptions().device(device).dtype(dtype);
      const std::vector<int64_t> sizes{shape.batch, shape.heads, shape.tokens, shape.head_dim};
      const torch::Tensor q0 = torch::randn(sizes, opts), k0 = torch::randn(sizes, opts),
                          v0 = torch::randn(sizes, opts), dout = torch::randn(sizes, opts);
      // The reference in float32 (float64 for float64 runs); sliced when the full scores would be
      // large.
      torch::Tensor reference;
      {
        const torch::NoGradGuard no_grad;
        const auto ref_type = dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
        const double score_bytes =
            double(shape.batch * shape.heads) * double(shape.tokens) * double(shape.tokens) * 4;
        try {
          reference =
              score_bytes <= double(1ll << 31)
                  ? math_attention(q0.to(ref_type), k0.to(ref_type), v0.to(ref_type))
                  : sliced_attention(q0.to(ref_type), k0.to(ref_type), v0.to(ref_type), 1024);
        } catch (const std::exception& e) {
          if (!is_out_of_memory(e)) throw;  // no reference: errors are reported as not comparable
        }
      }
      for (const auto& pass : o.passes) {
        if (pass != "fwd" && pass != "fwdbwd")
          throw std::invalid_argument("--pass: must be fwd or fwdbwd, got \"" + pass + "\"");
        const bool backward = pass == "fwdbwd";
        for (const auto& c : list) {
          AttentionBenchRow row;
          row.backend = c.name;
          row.device = o.device;
          row.dtype = dtype_name;
          row.pass = pass;
          row.batch = shape.batch;
          row.heads = shape.heads;
          row.tokens = shape.tokens;
          row.head_dim = shape.head_dim;
          row.error = c.unavailable;
          if (row.error.empty()) {
            const torch::Tensor q = q0.detach().requires_grad_(backward),
                                k = k0.detach().requires_grad_(backward),
                                v = v0.detach().requires_grad_(backward);
            const auto call = [&]() -> torch::Tensor {
              torch::Tensor out = c.fn(q, k, v);
              if (backward) {
                out.backward(dout);
                for (auto t : {q, k, v}) t.mutable_grad() = torch::Tensor();
              }
              return out;
            };
            try {
              synchronize(device);
              const std::int64_t before = memory.current();
              memory.reset_peak();
              const torch::Tensor out = call().detach();
              synchronize(device);
              row.peak_extra_bytes = std::max<std::int64_t>(0, memory.peak() - before);
              if (c.comparable && reference.defined()) {
                const torch::Tensor diff = out.to(reference.scalar_type()) - reference;
                row.max_abs_err = diff.abs().max().item<double>();
                const torch::Tensor a = out.to(torch::kFloat64).flatten(),
                                    b = reference.to(torch::kFloat64).flatten();
                row.cos_sim = (a.dot(b) / (a.norm() * b.norm())).item<double>();
                row.rel_l1 = ((a - b).abs().sum() / b.abs().sum()).item<double>();
              }
              // Seconds per call, median over repeats of `per_repeat` calls queued back to back
              // (one synchronise at the end), until min_seconds or max_repeats.
              const auto median_seconds = [&](int per_repeat) {
                std::vector<double> times;
                double total = 0;
                while (times.empty() ||
                       (total < o.min_seconds && int(times.size()) < o.max_repeats)) {
                  synchronize(device);
                  const auto t0 = std::chrono::steady_clock::now();
                  for (int i = 0; i < per_repeat; ++i) call();
                  synchronize(device);
                  const double s =
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                  times.push_back(s / per_repeat);
                  total += s;
                }
                std::sort(times.begin(), times.end());
                return times[times.size() / 2];
              };
              const double sync_seconds = median_seconds(1);
              row.ms_sync = sync_seconds * 1e3;
              // Batches of about 5 ms (1 to 100 calls) for the queued timing.
              const int per_batch =
                  static_cast<int>(std::clamp(std::ceil(5e-3 / sync_seconds), 1.0, 100.0));
              row.ms = median_seconds(per_batch) * 1e3;
              const double flops = 4.0 * double(shape.batch * shape.heads) * double(shape.tokens) *
                                   double(shape.tokens) * double(shape.head_dim) *
                                   (backward ? 3.5 : 1.0);
              row.tflops = flops / (row.ms * 1e-3) / 1e12;
            } catch (const std::bad_alloc&) {
              row.error = "out of memory";
            } catch (const std::exception& e) {
              row.error = is_out_of_memory(e)
                              ? std::string("out of memory")
                              : std::string(e.what()).substr(0, std::string(e.what()).find('\n'));
            }
          }
          if (on_row) on_row(row);
          rows.push_back(std::move(row));
        }
      }
    }
  }
  return rows;
}

}  // namespace latentcast::bench
