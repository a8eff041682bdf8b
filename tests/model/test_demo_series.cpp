// Tests of the built-in demo series: its shape, that it is deterministic, and that the structure it
// promises (hourly rows, daily seasonality, a regime change at 55 %) is really in the numbers.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/data/csv.h"
#include "model/data/demo_series.h"
#include "tests/support/check.h"

using namespace latentcast::data;

namespace {

double mean(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  double sum = 0.0;
  for (std::size_t i = begin; i < end; ++i) sum += v[i];
  return sum / double(end - begin);
}

double autocorrelation(const std::vector<double>& v, std::size_t lag) {
  const double m = mean(v, 0, v.size());
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    den += (v[i] - m) * (v[i] - m);
    if (i + lag < v.size()) num += (v[i] - m) * (v[i + lag] - m);
  }
  return num / den;
}

// The series minus its centred 24-hour moving average: what is left is the daily cycle and noise.
std::vector<double> detrended(const std::vector<double>& v) {
  std::vector<double> out;
  for (std::size_t i = 12; i + 12 < v.size(); ++i) {
    double window = 0.5 * (v[i - 12] + v[i + 12]);
    for (std::size_t k = i - 11; k <= i + 11; ++k) window += v[k];
    out.push_back(v[i] - window / 24.0);
  }
  return out;
}

}  // namespace

TEST_CASE("shape, names and table fields") {
  const Table t = make_demo_series();
  EXPECT_EQ(t.rows(), 4000);
  EXPECT_EQ(t.file, std::string(kDemoDatasetPath));
  EXPECT_EQ(t.file, std::string("builtin:demo"));
  EXPECT_EQ(t.date_column, std::string("date"));
  REQUIRE(t.columns.size() == 5);
  EXPECT_EQ(t.columns[0].name, std::string("date"));
  EXPECT(t.columns[0].type == ColumnType::DateTime);
  const std::vector<std::string> names = {"load", "temperature", "price", "wind"};
  EXPECT(t.numeric_names == names);
  for (std::size_t j = 0; j < names.size(); ++j) {
    EXPECT_EQ(t.columns[j + 1].name, names[j]);
    EXPECT(t.columns[j + 1].type == ColumnType::Numeric);
    EXPECT_EQ(t.columns[j + 1].missing, 0);
  }
  REQUIRE(t.values.size() == 4);
  for (const auto& column : t.values) EXPECT_EQ(column.size(), 4000u);
  EXPECT_EQ(t.timestamps.size(), 4000u);
  EXPECT(t.missing.empty());
  EXPECT(t.warnings.empty());
  EXPECT_EQ(t.numeric_index("price"), 2);
  EXPECT_EQ(make_demo_series(10).rows(), 10);
  EXPECT_EQ(make_demo_series(0).rows(), 0);
}

TEST_CASE("hourly from 2024-01-01 00:00") {
  const Table t = make_demo_series(100);
  EXPECT_EQ(format_datetime(t.timestamps.front()), std::string("2024-01-01 00:00:00"));
  EXPECT_EQ(format_datetime(t.timestamps.back()), std::string("2024-01-05 03:00:00"));
  const Sampling s = sampling_of(t);
  EXPECT_EQ(s.interval_seconds, 3600);
  EXPECT(s.regular);
}

TEST_CASE("deterministic: same seed equal, other seed different") {
  const Table a = make_demo_series(2000, 7);
  const Table b = make_demo_series(2000, 7);
  const Table c = make_demo_series(2000, 8);
  EXPECT(a.values == b.values);
  EXPECT(a.timestamps == b.timestamps);
  for (std::size_t j = 0; j < a.values.size(); ++j) EXPECT(a.values[j] != c.values[j]);
}

TEST_CASE("no NaN or infinity") {
  const Table t = make_demo_series(5000, 11);
  for (const auto& column : t.values)
    for (double x : column) REQUIRE(std::isfinite(x));
}

TEST_CASE("regime change at 55 percent shifts every column's level") {
  const Table t = make_demo_series(4000, 7);
  const std::size_t change = 2200;
  for (std::size_t j = 0; j < t.values.size(); ++j) {
    const std::vector<double>& v = t.values[j];
    const double before = mean(v, 0, change), after = mean(v, change, v.size());
    // Each shift is several noise standard deviations; the column means over thousands of rows
    // have errors far below 1.
    if (!(std::fabs(after - before) > 1.0)) {
      ::lctest::report(
          __FILE__, __LINE__,
          t.numeric_names[j] + ": mean " + std::to_string(before) + " -> " + std::to_string(after));
    }
  }
  const std::vector<double>& load = t.values[0];
  EXPECT(mean(load, change, load.size()) - mean(load, 0, change) > 20.0);
  // The level jumps at the change itself, not gradually: compare the days on either side.
  EXPECT(mean(load, change, change + 24) - mean(load, change - 24, change) > 15.0);
}

TEST_CASE("regime change widens the daily cycle of load") {
  const Table t = make_demo_series(4000, 7);
  const std::vector<double> d = detrended(t.values[0]);
  const std::size_t change = 2200 - 12;  // detrended() drops the first 12 rows
  double before = 0.0, after = 0.0;
  for (std::size_t i = 0; i < change; ++i) before += d[i] * d[i];
  for (std::size_t i = change; i < d.size(); ++i) after += d[i] * d[i];
  before = std::sqrt(before / double(change));
  after = std::sqrt(after / double(d.size() - change));
  EXPECT(after > 1.3 * before);
}

TEST_CASE("daily seasonality: strong autocorrelation at lag 24") {
  const Table t = make_demo_series(4000, 7);
  const std::vector<double>& load = t.values[0];
  EXPECT(autocorrelation(load, 24) > 0.5);
  const std::vector<double> d = detrended(load);
  const double at_day = autocorrelation(d, 24), at_half_day = autocorrelation(d, 12);
  EXPECT(at_day > 0.8);
  EXPECT(at_half_day < -0.5);
  for (std::size_t j = 1; j < t.values.size(); ++j)
    EXPECT(autocorrelation(detrended(t.values[j]), 24) > 0.3);
}

TEST_CASE("weekly seasonality is present in wind") {
  // Wind has the largest weekly amplitude relative to its daily one; a 24-hour mean removes the
  // daily cycle and leaves the week.
  const Table t = make_demo_series(4000, 7);  // the first 2000 rows are before the change
  const std::vector<double>& wind = t.values[3];
  std::vector<double> daily_means;
  for (std::size_t i = 0; i + 24 <= 2000; i += 24) daily_means.push_back(mean(wind, i, i + 24));
  EXPECT(autocorrelation(daily_means, 7) > 0.3);
}

LCTEST_MAIN
