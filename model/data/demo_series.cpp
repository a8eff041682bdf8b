// The built-in demo series and the CSV writer that saves it (or any Table) for the application and
// the benchmarks.
#include "model/data/demo_series.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace latentcast::data {

namespace {

constexpr std::int64_t kDemoStart = 1704067200;  // 2024-01-01 00:00:00 UTC
constexpr std::int64_t kHour = 3600;
constexpr double kTwoPi = 6.283185307179586;
constexpr double kDailyPeriod = 24.0;    // hours
constexpr double kWeeklyPeriod = 168.0;  // hours
constexpr std::size_t kFlushBytes = 1 << 20;

// One demo column: y = level + trend + daily + weekly + noise, with the regime change at 55 % of
// the rows adding level_shift, switching the slope to slope_after and scaling the daily amplitude.
struct SeriesSpec {
  const char* name;
  double level, slope;            // units, units per hour
  double daily_amp, daily_phase;  // units, radians
  double weekly_amp, weekly_phase;
  double noise;  // standard deviation
  double level_shift, slope_after, daily_factor;
};

constexpr SeriesSpec kSeries[] = {
    {"load", 100.0, 0.002, 20.0, 0.0, 8.0, 1.0, 3.0, 25.0, 0.006, 1.5},
    {"temperature", 12.0, 0.0005, 6.0, -1.57, 1.5, 2.0, 1.0, -3.0, -0.001, 0.8},
    {"price", 50.0, 0.001, 10.0, 0.6, 5.0, -0.5, 4.0, 15.0, 0.004, 1.3},
    {"wind", 14.0, 0.0, 2.0, 2.5, 3.0, 0.3, 1.5, -2.0, 0.0005, 2.0},
};

// Ref: S. Vigna, splitmix64 (seeding) and Blackman & Vigna 2018, xoshiro256**. Both are fully
// specified integer recurrences, unlike std::normal_distribution, whose output differs between
// standard libraries.
std::uint64_t splitmix64(std::uint64_t* state) {
  std::uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix64(&seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in (0, 1]: never 0, so the logarithm below is finite.
  double uniform() { return double((next() >> 11) + 1) * 0x1.0p-53; }

  // Ref: Box & Muller 1958; the second value of each pair is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double theta = kTwoPi * uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// A header cell, quoted when it holds anything the reader would split on or trim.
std::string csv_name(const std::string& name) {
  const bool plain = name.find_first_of(",;\t\"\r\n") == std::string::npos &&
                     (name.empty() || (name.front() != ' ' && name.back() != ' '));
  if (plain) return name;
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Table make_demo_series(std::int64_t rows, std::uint64_t seed) {
  if (rows < 0) throw std::invalid_argument("make_demo_series: rows must be >= 0");
  Table table;
  table.file = kDemoDatasetPath;
  table.delimiter = ',';
  table.has_header = true;
  table.date_column = "date";
  table.columns.push_back({"date", ColumnType::DateTime, 0});
  table.timestamps.resize(std::size_t(rows));
  for (std::int64_t i = 0; i < rows; ++i) table.timestamps[std::size_t(i)] = kDemoStart + i * kHour;

  const std::int64_t change = rows * 55 / 100;
  std::uint64_t seeder = seed;
  for (const SeriesSpec& s : kSeries) {
    // One generator per column, so a column's noise does not depend on the columns before it.
    Rng rng(splitmix64(&seeder));
    std::vector<double> v(static_cast<std::size_t>(rows));
    for (std::int64_t i = 0; i < rows; ++i) {
      const bool after = i >= change;
      const double t = double(i);
      const double trend =
          after ? s.level_shift + s.slope * double(change) + s.slope_after * double(i - change)
                : s.slope * t;
      const double daily_amp = after ? s.daily_amp * s.daily_factor : s.daily_amp;
      v[std::size_t(i)] = s.level + trend +
                          daily_amp * std::sin(kTwoPi * t / kDailyPeriod + s.daily_phase) +
                          s.weekly_amp * std::sin(kTwoPi * t / kWeeklyPeriod + s.weekly_phase) +
                          s.noise * rng.normal();
    }
    table.columns.push_back({s.name, ColumnType::Numeric, 0});
    table.numeric_names.push_back(s.name);
    table.values.push_back(std::move(v));
  }
  return table;
}

void write_csv(const Table& table, const std::string& path) {
  const std::string temp = path + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) throw CsvError(path, 0, std::string("cannot write: ") + std::strerror(errno));

  const bool dates = !table.timestamps.empty();
  std::string buffer;
  buffer.reserve(kFlushBytes + 4096);
  bool ok = true;
  const auto flush = [&] {
    ok = ok && std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    buffer.clear();
  };

  if (dates) buffer += csv_name(table.date_column.empty() ? "date" : table.date_column);
  for (std::size_t j = 0; j < table.numeric_names.size(); ++j) {
    if (dates || j > 0) buffer += ',';
    buffer += csv_name(table.numeric_names[j]);
  }
  buffer += '\n';

  char number[64];
  const std::int64_t rows = table.rows();
  for (std::int64_t i = 0; i < rows; ++i) {
    if (dates) buffer += format_datetime(table.timestamps[std::size_t(i)]);
    for (std::size_t j = 0; j < table.values.size(); ++j) {
      if (dates || j > 0) buffer += ',';
      // Shortest text that reads back to the same double.
      const auto result = std::to_chars(number, number + sizeof number, table.values[j][i]);
      buffer.append(number, result.ptr);
    }
    buffer += '\n';
    if (buffer.size() >= kFlushBytes) flush();
  }
  flush();
  std::string failure = ok ? "" : std::strerror(errno);
  if (std::fclose(f) != 0 && failure.empty()) failure = std::strerror(errno);
  std::error_code ec;
  if (failure.empty()) {
    std::filesystem::rename(temp, path,
                            ec);  // atomic: readers see the old file or the whole new one
    if (ec) failure = ec.message();
  }
  if (!failure.empty()) {
    std::filesystem::remove(temp, ec);
    throw CsvError(path, 0, "cannot write: " + failure);
  }
}

}  // namespace latentcast::data
