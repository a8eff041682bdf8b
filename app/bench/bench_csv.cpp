// Benchmark of read_csv: writes an hourly CSV of R rows x C columns with a date column (values with
// three decimals, like real sensor exports) and reports the best of three loads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "app/bench/bench.h"
#include "model/data/csv.h"
#include "model/data/demo_series.h"

namespace latentcast::bench {

namespace {

constexpr int kRepeats = 3;
constexpr std::int64_t kStart = 1704067200;  // 2024-01-01 00:00:00 UTC

struct CsvBenchOptions {
  std::int64_t rows = 1000000;
  std::int64_t cols = 10;
  std::string dir;
  bool json = false;
};

bool parse_count(const char* text, std::int64_t lo, std::int64_t hi, std::int64_t* out) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// False (after a message on stderr) for an unknown flag or a bad value.
bool parse_options(int argc, char** argv, CsvBenchOptions* o) {
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (std::strcmp(flag, "--json") == 0) {
      o->json = true;
      continue;
    }
    bool ok = value != nullptr;
    if (ok && std::strcmp(flag, "--rows") == 0)
      ok = parse_count(value, 1, 1000000000, &o->rows);
    else if (ok && std::strcmp(flag, "--cols") == 0)
      ok = parse_count(value, 1, 10000, &o->cols);
    else if (ok && std::strcmp(flag, "--dir") == 0)
      o->dir = value;
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "bench csv: bad option '%s%s%s'\n", flag, value ? " " : "",
                   value ? value : "");
      return false;
    }
    ++i;
  }
  return true;
}

// Smooth daily cycles plus splitmix64 noise, rounded to three decimals so each cell is a few
// characters, as in measured data rather than full-precision doubles.
data::Table make_table(std::int64_t rows, std::int64_t cols) {
  data::Table t;
  t.date_column = "date";
  t.timestamps.resize(std::size_t(rows));
  for (std::int64_t i = 0; i < rows; ++i) t.timestamps[std::size_t(i)] = kStart + i * 3600;
  std::uint64_t state = 1;
  for (std::int64_t j = 0; j < cols; ++j) {
    t.numeric_names.push_back("v" + std::to_string(j + 1));
    std::vector<double> v(static_cast<std::size_t>(rows));
    for (std::int64_t i = 0; i < rows; ++i) {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      const double noise = double((z ^ (z >> 31)) >> 11) * 0x1.0p-53 - 0.5;
      const double x =
          10.0 * double(j + 1) + 5.0 * std::sin(double(i) * 0.2618 + double(j)) + noise;
      v[std::size_t(i)] = std::round(x * 1000.0) / 1000.0;
    }
    t.values.push_back(std::move(v));
  }
  return t;
}

}  // namespace

int bench_csv(int argc, char** argv) {
  CsvBenchOptions o;
  if (!parse_options(argc, argv, &o)) return 2;
  std::error_code ec;
  const std::filesystem::path dir =
      o.dir.empty() ? std::filesystem::temp_directory_path(ec) : std::filesystem::path(o.dir);
  const std::string path =
      (dir / ("latentcast_bench_" + std::to_string(o.rows) + "x" + std::to_string(o.cols) + ".csv"))
          .string();
  double best = 1e300;
  std::uintmax_t bytes = 0;
  try {
    data::write_csv(make_table(o.rows, o.cols), path);
    bytes = std::filesystem::file_size(path);
    for (int r = 0; r < kRepeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const data::Table t = data::read_csv(path);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      if (t.rows() != o.rows || std::int64_t(t.values.size()) != o.cols) {
        std::fprintf(stderr, "bench csv: read back %lld x %zu, expected %lld x %lld\n",
                     static_cast<long long>(t.rows()), t.values.size(),
                     static_cast<long long>(o.rows), static_cast<long long>(o.cols));
        std::filesystem::remove(path, ec);
        return 1;
      }
      best = std::min(best, took.count());
    }
  } catch (const data::CsvError& e) {
    std::fprintf(stderr, "bench csv: %s\n", e.what());
    std::filesystem::remove(path, ec);
    return 1;
  }
  std::filesystem::remove(path, ec);

  const double mb = double(bytes) / 1e6;
  if (o.json) {
    std::printf(
        "{\"bench\": \"csv\", \"rows\": %lld, \"cols\": %lld, \"file_mb\": %.2f, \"seconds\": "
        "%.4f, \"mb_per_s\": %.1f}\n",
        static_cast<long long>(o.rows), static_cast<long long>(o.cols), mb, best, mb / best);
  } else {
    std::printf("%-10s %6s %10s %10s %10s\n", "rows", "cols", "file_MB", "seconds", "MB/s");
    std::printf("%-10lld %6lld %10.2f %10.4f %10.1f\n", static_cast<long long>(o.rows),
                static_cast<long long>(o.cols), mb, best, mb / best);
  }
  return 0;
}

}  // namespace latentcast::bench
