// Benchmark of read_csv side by side with a peer (the ifstream/getline/stod reader a typical C++
// program would write), both loading the same generated hourly CSV in one run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/bench/bench.h"
#include "model/data/csv.h"
#include "model/data/demo_series.h"

namespace latentcast::bench {

namespace {

constexpr int kRepeats = 3;
constexpr const char* kOurs = "latentcast";
constexpr const char* kPeer = "naive_getline_stod";
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

// The peer: the straightforward loader a typical C++ program would write. It keeps the date cell
// as text without parsing it, so it does less work than read_csv (which parses timestamps and
// validates every cell); the comparison leans in the peer's favour.
std::vector<std::vector<double>> read_csv_getline_stod(const std::string& path, char delimiter) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  std::string cell;
  std::vector<std::vector<double>> columns;
  if (std::getline(in, line)) {
    std::stringstream header(line);
    std::getline(header, cell, delimiter);  // the date column
    while (std::getline(header, cell, delimiter)) columns.emplace_back();
  }
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::getline(fields, cell, delimiter);  // the date, as text only
    for (std::vector<double>& column : columns) {
      if (!std::getline(fields, cell, delimiter)) throw std::runtime_error("short row in " + path);
      column.push_back(std::stod(cell));
    }
  }
  return columns;
}

// What both readers must agree on: the shape and each column's sum. Summing in file order makes
// the sums equal bit for bit when every cell parses to the same double.
struct Digest {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<double> sums;
};

Digest digest_of(const std::vector<std::vector<double>>& columns) {
  Digest d;
  d.cols = std::int64_t(columns.size());
  d.rows = columns.empty() ? 0 : std::int64_t(columns.front().size());
  for (const std::vector<double>& column : columns) {
    // A ragged result shows up as a shape mismatch rather than as a quietly shorter sum.
    if (std::int64_t(column.size()) != d.rows) d.rows = -1;
    double sum = 0.0;
    for (double x : column) sum += x;
    d.sums.push_back(sum);
  }
  return d;
}

// Empty when the two agree, else a one-line description of the first difference.
std::string compare_digests(const Digest& ours, const Digest& peer) {
  if (ours.rows != peer.rows || ours.cols != peer.cols)
    return "shape " + std::to_string(ours.rows) + " x " + std::to_string(ours.cols) + " vs " +
           std::to_string(peer.rows) + " x " + std::to_string(peer.cols);
  for (std::size_t j = 0; j < ours.sums.size(); ++j)
    if (ours.sums[j] != peer.sums[j]) {
      char text[160];
      std::snprintf(text, sizeof text, "column %zu sums to %.17g vs %.17g", j + 1, ours.sums[j],
                    peer.sums[j]);
      return text;
    }
  return "";
}

struct Timing {
  const char* reader;
  double seconds;
};

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
  Timing ours{kOurs, 1e300};
  Timing peer{kPeer, 1e300};
  std::uintmax_t bytes = 0;
  const auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "bench csv: %s\n", message.c_str());
    std::filesystem::remove(path, ec);
    return 1;
  };
  try {
    data::write_csv(make_table(o.rows, o.cols), path);
    bytes = std::filesystem::file_size(path);
    // Interleaved, so that drift in the machine (frequency, cache, other load) hits both alike.
    for (int r = 0; r < kRepeats; ++r) {
      auto start = std::chrono::steady_clock::now();
      const data::Table t = data::read_csv(path);
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      ours.seconds = std::min(ours.seconds, took.count());
      const Digest ours_digest = digest_of(t.values);

      start = std::chrono::steady_clock::now();
      const std::vector<std::vector<double>> columns = read_csv_getline_stod(path, ',');
      took = std::chrono::steady_clock::now() - start;
      peer.seconds = std::min(peer.seconds, took.count());
      const Digest peer_digest = digest_of(columns);

      if (ours_digest.rows != o.rows || ours_digest.cols != o.cols)
        return fail(std::string(kOurs) + " read back " + std::to_string(ours_digest.rows) + " x " +
                    std::to_string(ours_digest.cols) + ", expected " + std::to_string(o.rows) +
                    " x " + std::to_string(o.cols));
      const std::string diff = compare_digests(ours_digest, peer_digest);
      if (!diff.empty()) return fail(std::string(kOurs) + " and " + kPeer + " differ: " + diff);
    }
  } catch (const data::CsvError& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(std::string(kPeer) + ": " + e.what());
  }
  std::filesystem::remove(path, ec);

  const double mb = double(bytes) / 1e6;
  const Timing timings[] = {ours, peer};
  if (o.json) {
    const char* separator = "[\n";
    for (const Timing& t : timings) {
      std::printf(
          "%s  {\"bench\": \"csv\", \"reader\": \"%s\", \"rows\": %lld, \"cols\": %lld, "
          "\"file_mb\": %.2f, \"seconds\": %.4f, \"mb_per_s\": %.1f}",
          separator, t.reader, static_cast<long long>(o.rows), static_cast<long long>(o.cols), mb,
          t.seconds, mb / t.seconds);
      separator = ",\n";
    }
    std::printf("\n]\n");
  } else {
    std::printf("%-20s %10s %6s %10s %10s %10s\n", "reader", "rows", "cols", "file_MB", "seconds",
                "MB/s");
    for (const Timing& t : timings)
      std::printf("%-20s %10lld %6lld %10.2f %10.4f %10.1f\n", t.reader,
                  static_cast<long long>(o.rows), static_cast<long long>(o.cols), mb, t.seconds,
                  mb / t.seconds);
    std::printf("speed-up of %s over %s: %.2fx (best of %d each, interleaved)\n", kOurs, kPeer,
                peer.seconds / ours.seconds, kRepeats);
  }
  return 0;
}

}  // namespace latentcast::bench
