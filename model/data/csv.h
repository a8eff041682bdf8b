// Reading numeric time series from real-world CSV files. Torch-free: the GUI previews data through
// it and the model builds tensors from the Table it returns.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "estimator/config.h"

namespace latentcast::data {

// A file that cannot be read as a numeric series. what() is one line naming the file and, where
// known, the line (1-based) and column: "prices.csv:17: expected 8 fields, found 7 (ragged row)".
class CsvError : public std::runtime_error {
 public:
  CsvError(std::string file, std::int64_t line, const std::string& message);
  const std::string& file() const { return file_; }
  std::int64_t line() const { return line_; }  // 0 when the error is about the whole file

 private:
  std::string file_;
  std::int64_t line_;
};

enum class ColumnType { Numeric, DateTime, Text };
const char* to_string(ColumnType t);

struct ColumnInfo {
  std::string name;  // from the header, or "col1", "col2", ... without one
  ColumnType type = ColumnType::Numeric;
  std::int64_t missing = 0;  // missing cells (empty, NA, NaN, null) in a numeric column
};

// One missing numeric cell, where the file has it.
struct MissingCell {
  std::int64_t line;   // 1-based line in the file
  std::string column;  // column name
};

struct CsvOptions {
  MissingPolicy missing = MissingPolicy::Reject;  // reject: throw on the first missing cell
  char delimiter = 0;                             // 0: detect among ',', ';' and tab
  int has_header = -1;                            // -1: detect, 0: no header, 1: header
  std::string date_column;  // empty: detect (a first column that parses as dates)
};

// The numeric part of a file, stored column-major. Text columns are listed in `columns` but hold no
// values; the date column, if any, becomes `timestamps`.
struct Table {
  std::string file;
  char delimiter = ',';
  bool has_header = true;
  std::vector<ColumnInfo> columns;          // every column of the file, in file order
  std::vector<std::string> numeric_names;   // names of the numeric columns, in file order
  std::vector<std::vector<double>> values;  // values[j][i]: numeric column j, row i
  std::string date_column;                  // empty if none
  std::vector<std::int64_t> timestamps;     // seconds since 1970-01-01 (UTC as written), per row
  std::vector<MissingCell> missing;         // every missing numeric cell, in file order
  std::vector<std::string> warnings;  // things the user should see (filled values, skipped text)

  std::int64_t rows() const { return values.empty() ? 0 : std::int64_t(values.front().size()); }
  // Index of a numeric column by name, or -1.
  int numeric_index(const std::string& name) const;
};

// Reads a CSV file. Throws CsvError for a file that is unreadable, empty, binary, ragged, or has no
// numeric column, and for missing values under MissingPolicy::Reject.
Table read_csv(const std::string& path, const CsvOptions& options = {});
// Same, from text in memory; `name` stands for the file in messages.
Table parse_csv(std::string_view text, const std::string& name, const CsvOptions& options = {});

// Parses a date/time cell ("2016-07-01 00:00:00", "2016-07-01T00:00", "2016/07/01", "2016-07-01")
// to seconds since the epoch; false if it is not one.
bool parse_datetime(std::string_view cell, std::int64_t* seconds);
// Formats seconds since the epoch as "YYYY-MM-DD HH:MM:SS".
std::string format_datetime(std::int64_t seconds);

// The most common spacing between consecutive timestamps in seconds (0 without timestamps), and
// whether every spacing equals it.
struct Sampling {
  std::int64_t interval_seconds = 0;
  bool regular = true;
};
Sampling sampling_of(const Table& table);
// A sampling interval for people: "1h", "15min", "1d", "90s"; "n/a" for 0.
std::string format_interval(std::int64_t seconds);

}  // namespace latentcast::data
