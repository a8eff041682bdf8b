// latentcast-bench attention: every attention backend on a list of shapes, beside LibTorch's SDPA
// (each SDPA backend pinned on CUDA), in one run (model/attention/bench.h does the measuring).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/bench/bench.h"
#include "model/attention/bench.h"

namespace latentcast::bench {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

// "B,H,N,d;B,H,N,d" -> shapes; throws naming the bad entry.
std::vector<AttentionShape> parse_shapes(const std::string& text) {
  std::vector<AttentionShape> shapes;
  for (const auto& entry : split(text, ';')) {
    const auto parts = split(entry, ',');
    std::vector<long long> v;
    for (const auto& p : parts) {
      char* end = nullptr;
      const long long x = std::strtoll(p.c_str(), &end, 10);
      if (end == p.c_str() || *end != '\0' || x < 1 || x > (1ll << 24))
        v.clear(), v.push_back(-1);
      else
        v.push_back(x);
      if (v.back() < 0) break;
    }
    if (v.size() != 4 || v.back() < 0)
      throw std::invalid_argument("--shapes: \"" + entry +
                                  "\" is not B,H,N,d with positive integers");
    shapes.push_back({v[0], v[1], v[2], v[3]});
  }
  if (shapes.empty()) throw std::invalid_argument("--shapes: no shape given");
  return shapes;
}

const char* kUsage =
    "usage: latentcast-bench attention [--device cpu|cuda] [--shapes \"B,H,N,d;...\"] [--dtype "
    "LIST]\n"
    "                                  [--pass fwd,fwdbwd] [--backends LIST] [--min-seconds S] "
    "[--json]\n";

}  // namespace

int bench_attention(int argc, char** argv) {
  AttentionBenchOptions o;
  bool json_out = false, dtype_given = false;
  std::string shapes;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--json") {
        json_out = true;
        continue;
      }
      if (i + 1 >= argc) throw std::invalid_argument(flag + ": unknown option or missing value");
      const std::string value = argv[++i];
      if (flag == "--device")
        o.device = value;
      else if (flag == "--shapes")
        shapes = value;
      else if (flag == "--dtype")
        o.dtypes = split(value, ','), dtype_given = true;
      else if (flag == "--pass")
        o.passes = split(value, ',');
      else if (flag == "--backends")
        o.backends = split(value, ',');
      else if (flag == "--min-seconds") {
        char* end = nullptr;
        o.min_seconds = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || !(o.min_seconds >= 0 && o.min_seconds <= 600))
          throw std::invalid_argument(
              "--min-seconds: must be a number of seconds between 0 and 600, got \"" + value +
              "\"");
      } else {
        throw std::invalid_argument(flag + ": unknown option");
      }
    }
    const bool cuda = o.device == "cuda";
    // The GPU shapes; on the CPU, shapes a 2-core machine measures in seconds.
    o.shapes = parse_shapes(!shapes.empty() ? shapes
                            : cuda ? "4,8,4096,64;1,8,16384,64;4,8,4096,32;16,4,784,32;2,8,3136,64"
                                   : "2,4,1024,64;1,4,4096,32;3,2,1000,40");
    if (cuda && !dtype_given) o.dtypes = {"bfloat16"};  // the kernels' precision on the GPU
    // With --json the table goes to stderr as rows are measured, the JSON array to stdout at the
    // end.
    FILE* table = json_out ? stderr : stdout;
    std::fprintf(table, "# %s, LibTorch intra-op threads: %d\n", o.device.c_str(),
                 intra_op_threads());
    std::fprintf(table, "%-15s %-6s %-8s %-6s %4s %3s %6s %4s %10s %8s %10s %12s %10s %9s %8s\n",
                 "backend", "device", "dtype", "pass", "B", "H", "N", "d", "ms", "TFLOP/s",
                 "ms_sync", "peak_extra", "max_err", "cos_sim", "rel_l1");
    const auto rows = run_attention_bench(o, [&](const AttentionBenchRow& r) {
      if (!r.error.empty()) {
        std::fprintf(table, "%-15s %-6s %-8s %-6s %4lld %3lld %6lld %4lld   %s\n",
                     r.backend.c_str(), r.device.c_str(), r.dtype.c_str(), r.pass.c_str(),
                     (long long)r.batch, (long long)r.heads, (long long)r.tokens,
                     (long long)r.head_dim, r.error.c_str());
      } else {
        char err[32] = "-", cs[32] = "-", l1[32] = "-";
        if (r.max_abs_err >= 0) std::snprintf(err, sizeof err, "%.2e", r.max_abs_err);
        if (r.cos_sim >= 0) std::snprintf(cs, sizeof cs, "%.6f", r.cos_sim);
        if (r.rel_l1 >= 0) std::snprintf(l1, sizeof l1, "%.2e", r.rel_l1);
        std::fprintf(
            table,
            "%-15s %-6s %-8s %-6s %4lld %3lld %6lld %4lld %10.3f %8.3f %10.3f %10.1fMiB %10s %9s "
            "%8s\n",
            r.backend.c_str(), r.device.c_str(), r.dtype.c_str(), r.pass.c_str(),
            (long long)r.batch, (long long)r.heads, (long long)r.tokens, (long long)r.head_dim,
            r.ms, r.tflops, r.ms_sync, double(r.peak_extra_bytes) / double(1 << 20), err, cs, l1);
      }
      std::fflush(table);
    });
    if (json_out) {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& r : rows) {
        nlohmann::json j = {{"backend", r.backend}, {"device", r.device}, {"dtype", r.dtype},
                            {"pass", r.pass},       {"B", r.batch},       {"H", r.heads},
                            {"N", r.tokens},        {"d", r.head_dim}};
        const bool ran = r.error.empty();
        j["ms"] = ran ? nlohmann::json(r.ms) : nlohmann::json(nullptr);
        j["ms_sync"] = ran ? nlohmann::json(r.ms_sync) : nlohmann::json(nullptr);
        j["tflops"] = ran ? nlohmann::json(r.tflops) : nlohmann::json(nullptr);
        j["peak_extra_bytes"] = ran ? nlohmann::json(r.peak_extra_bytes) : nlohmann::json(nullptr);
        j["max_abs_err"] =
            ran && r.max_abs_err >= 0 ? nlohmann::json(r.max_abs_err) : nlohmann::json(nullptr);
        j["cos_sim"] = ran && r.cos_sim >= 0 ? nlohmann::json(r.cos_sim) : nlohmann::json(nullptr);
        j["rel_l1"] = ran && r.rel_l1 >= 0 ? nlohmann::json(r.rel_l1) : nlohmann::json(nullptr);
        if (!ran) j["error"] = r.error;
        array.push_back(j);
      }
      std::cout << array.dump(2) << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latentcast-bench attention: %s\n%s", e.what(), kUsage);
    return 2;
  }
  return 0;
}

}  // namespace latentcast::bench
