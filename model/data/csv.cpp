// Reads numeric time series from CSV: the whole file is held in memory and parsed in one pass,
// cells as string_views, numbers stored straight into the Table's column vectors.
#include "model/data/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace latentcast::data {

namespace {

constexpr std::size_t kBinaryScanBytes = 1 << 16;  // how much of a file is checked for binary data
constexpr int kDetectRecords = 10;                 // non-blank records read to pick the delimiter
constexpr std::size_t kMaxCellInMessage = 40;      // longer cells are cut in error messages
constexpr std::size_t kReadChunk = 1 << 20;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string message_prefix(const std::string& file, std::int64_t line) {
  return line > 0 ? file + ":" + std::to_string(line) + ": " : file + ": ";
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A cell quoted for a one-line message: newlines shown as \n, long cells cut at a UTF-8 boundary.
std::string quote_cell(std::string_view cell) {
  std::size_t n = cell.size();
  if (n > kMaxCellInMessage) {
    n = kMaxCellInMessage;
    while (n > 0 && (static_cast<unsigned char>(cell[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = "\"";
  for (std::size_t i = 0; i < n; ++i) {
    if (cell[i] == '\n')
      out += "\\n";
    else if (cell[i] == '\r')
      out += "\\r";
    else
      out += cell[i];
  }
  if (n < cell.size()) out += "...";
  return out + "\"";
}

bool iequals(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? char(s[i] - 'A' + 'a') : s[i];
    if (c != lower[i]) return false;
  }
  return true;
}

// Spellings of a missing value (case-insensitive): empty, NA, N/A, NaN, null, "-".
bool is_missing(std::string_view cell) {
  switch (cell.size()) {
    case 0:
      return true;
    case 1:
      return cell[0] == '-';
    case 2:
      return iequals(cell, "na");
    case 3:
      return iequals(cell, "nan") || iequals(cell, "n/a");
    case 4:
      return iequals(cell, "null");
    default:
      return false;
  }
}

// A finite number filling the whole (trimmed) cell. from_chars, unlike strtod, ignores the locale,
// so "1.5" reads the same under a German desktop locale; it rejects a leading '+', which we allow.
bool parse_number(std::string_view cell, double* value) {
  cell = trim(cell);
  if (cell.size() > 1 && cell[0] == '+' && cell[1] != '-' && cell[1] != '+') cell.remove_prefix(1);
  if (cell.empty()) return false;
  const char* end = cell.data() + cell.size();
  const auto [ptr, ec] = std::from_chars(cell.data(), end, *value, std::chars_format::general);
  return ec == std::errc() && ptr == end && std::isfinite(*value);
}

// "1,5": a number written with a decimal comma, which the reader does not accept.
bool has_decimal_comma(std::string_view cell) {
  const std::size_t comma = cell.find(',');
  if (comma == std::string_view::npos || cell.find(',', comma + 1) != std::string_view::npos)
    return false;
  std::string dotted(cell);
  dotted[comma] = '.';
  double v;
  return parse_number(dotted, &v);
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Ref: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil /
// civil_from_days.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t* y, int* m, int* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  *d = int(doy - (153 * mp + 2) / 5 + 1);
  *m = int(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

// Offset of the first NUL byte or invalid UTF-8 sequence in the first kBinaryScanBytes, or -1.
std::int64_t find_binary_byte(std::string_view text) {
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = std::min(text.size(), kBinaryScanBytes);
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = u[i];
    if (c == 0) return std::int64_t(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                            : c >= 0xE0 && c <= 0xEF ? 3
                            : c >= 0xF0 && c <= 0xF4 ? 4
                                                     : 0;
    if (len == 0 || i + len > text.size()) return std::int64_t(i);
    if (i + len > n) break;  // a sequence cut by the scan window, with the rest of it in the file
    // The second byte's range excludes overlong forms and UTF-16 surrogates (RFC 3629 section 4).
    const unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (u[i + 1] < lo || u[i + 1] > hi) return std::int64_t(i);
    for (std::size_t k = 2; k < len; ++k)
      if ((u[i + k] & 0xC0) != 0x80) return std::int64_t(i);
    i += len;
  }
  return -1;
}

// Counts each candidate outside quotes in the first non-blank records and keeps the one that splits
// them all into the same number (> 1) of fields. When ',' and ';' (or tab) both do, the commas are
// taken for decimal commas, as in European exports ("1,5;2,5"): splitting on them would silently
// misread every number. Between ';' and tab, more fields wins. When none is consistent, the most
// frequent one in the first record wins, so the parser reports the ragged row with its line instead
// of reading the file as a single column.
char detect_delimiter(std::string_view text) {
  constexpr char kCandidates[] = {';', '\t', ','};  // in order of preference
  constexpr int kN = 3;
  int counts[kDetectRecords][kN] = {};
  int current[kN] = {};
  int records = 0;
  bool in_quotes = false, blank = true;
  for (std::size_t i = 0; i < text.size() && records < kDetectRecords; ++i) {
    const char c = text[i];
    if (c == '"') in_quotes = !in_quotes;
    if (in_quotes) {
      blank = false;
      continue;
    }
    if (c == '\n') {
      if (!blank) std::copy(current, current + kN, counts[records++]);
      std::fill(current, current + kN, 0);
      blank = true;
      continue;
    }
    for (int k = 0; k < kN; ++k)
      if (c == kCandidates[k]) ++current[k];
    if (!is_space(c)) blank = false;
  }
  if (!blank && records < kDetectRecords) std::copy(current, current + kN, counts[records++]);
  if (records == 0) return ',';

  int best = -1;
  for (int k = 0; k < kN; ++k) {
    bool consistent = counts[0][k] > 0;
    for (int r = 1; r < records && consistent; ++r) consistent = counts[r][k] == counts[0][k];
    if (consistent && (best < 0 || (kCandidates[k] != ',' && counts[0][k] > counts[0][best])))
      best = k;
  }
  if (best >= 0) return kCandidates[best];
  best = kN - 1;  // ',' unless another is more frequent
  for (int k = 0; k < kN; ++k)
    if (counts[0][k] > counts[0][best]) best = k;
  return kCandidates[best];
}

struct Field {
  std::string_view text;  // trimmed; quotes removed and "" unescaped
  std::int64_t line;      // physical line where the field starts
};

struct Record {
  std::vector<Field> fields;
  std::int64_t line = 0;  // physical line where the record starts
};

// Splits text into records of fields. Views point into the text, except for quoted fields with ""
// escapes, which are unescaped into buffers owned here and valid until the next call to next().
class Tokenizer {
 public:
  Tokenizer(std::string_view text, char delimiter, const std::string& file)
      : text_(text), delimiter_(delimiter), file_(file) {}

  // Reads the next non-blank record; false at the end of the text.
  bool next(Record* record) {
    record->fields.clear();
    escaped_used_ = 0;
    if (!skip_blank_lines()) return false;
    record->line = line_;
    for (;;) {
      const std::int64_t field_line = line_;
      std::size_t p = pos_;
      while (p < text_.size() && is_field_space(text_[p])) ++p;
      std::string_view cell;
      if (p < text_.size() && text_[p] == '"') {
        cell = trim(read_quoted(p));
        while (pos_ < text_.size() && is_field_space(text_[pos_])) ++pos_;
        if (pos_ < text_.size() && text_[pos_] != delimiter_ && text_[pos_] != '\n')
          throw CsvError(file_, line_, "unexpected text after the closing quote of a quoted field");
      } else {
        std::size_t end = p;
        while (end < text_.size() && text_[end] != delimiter_ && text_[end] != '\n') ++end;
        cell = trim(text_.substr(p, end - p));
        pos_ = end;
      }
      record->fields.push_back({cell, field_line});
      if (pos_ >= text_.size()) return true;
      if (text_[pos_] == '\n') {
        ++pos_;
        ++line_;
        return true;
      }
      ++pos_;  // the delimiter; a delimiter at the very end still opens an (empty) last field
    }
  }

 private:
  bool is_field_space(char c) const { return c != delimiter_ && is_space(c); }

  // Skips lines holding nothing but spaces; a line of delimiters is a record of empty cells.
  bool skip_blank_lines() {
    for (;;) {
      std::size_t p = pos_;
      while (p < text_.size() && is_field_space(text_[p])) ++p;
      if (p >= text_.size()) {
        pos_ = p;
        return false;
      }
      if (text_[p] != '\n') return true;
      pos_ = p + 1;
      ++line_;
    }
  }

  // The content of the quoted field whose opening quote is at `open`; leaves pos_ after the closing
  // quote and counts the newlines inside, so later line numbers stay physical.
  std::string_view read_quoted(std::size_t open) {
    const std::int64_t start_line = line_;
    const std::size_t begin = open + 1;
    std::size_t i = begin;
    bool escaped = false;
    for (;;) {
      const void* hit = std::memchr(text_.data() + i, '"', text_.size() - i);
      if (!hit) {
        throw CsvError(file_, start_line,
                       "unterminated quoted field starting on line " + std::to_string(start_line));
      }
      const std::size_t q = static_cast<const char*>(hit) - text_.data();
      line_ += std::count(text_.data() + i, text_.data() + q, '\n');
      if (q + 1 < text_.size() && text_[q + 1] == '"') {
        escaped = true;
        i = q + 2;
        continue;
      }
      pos_ = q + 1;
      const std::string_view raw = text_.substr(begin, q - begin);
      return escaped ? unescape(raw) : raw;
    }
  }

  std::string_view unescape(std::string_view raw) {
    if (escaped_used_ == escaped_.size()) escaped_.emplace_back();  // deque: no views invalidated
    std::string& out = escaped_[escaped_used_++];
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      out += raw[i];
      if (raw[i] == '"') ++i;  // the second quote of a "" pair
    }
    return out;
  }

  std::string_view text_;
  char delimiter_;
  const std::string& file_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
  std::deque<std::string> escaped_;  // reused from record to record
  std::size_t escaped_used_ = 0;
};

// A record copied out of the tokenizer's buffers, so it outlives the next call to next().
struct SavedRecord {
  std::vector<std::string> cells;
  Record record;

  explicit SavedRecord(const Record& r) : record(r) {
    cells.reserve(r.fields.size());
    for (const Field& f : r.fields) cells.emplace_back(f.text);
    for (std::size_t j = 0; j < cells.size(); ++j) record.fields[j].text = cells[j];
  }
  SavedRecord(const SavedRecord&) = delete;  // the views would point into the original
  SavedRecord& operator=(const SavedRecord&) = delete;
};

enum class CellKind { Missing, Number, DateTime, Text };

CellKind kind_of(std::string_view cell) {
  double v;
  std::int64_t t;
  if (is_missing(cell)) return CellKind::Missing;
  if (parse_number(cell, &v)) return CellKind::Number;
  if (parse_datetime(cell, &t)) return CellKind::DateTime;
  return CellKind::Text;
}

// A header is a first row with a text cell above a number, a date or a missing value; with no
// second row, a first row with text and no number or date.
bool looks_like_header(const Record& first, const Record* second) {
  if (second) {
    const std::size_t n = std::min(first.fields.size(), second->fields.size());
    for (std::size_t j = 0; j < n; ++j) {
      if (kind_of(first.fields[j].text) == CellKind::Text &&
          kind_of(second->fields[j].text) != CellKind::Text)
        return true;
    }
    return false;
  }
  bool text = false;
  for (const Field& f : first.fields) {
    const CellKind k = kind_of(f.text);
    if (k == CellKind::Number || k == CellKind::DateTime) return false;
    text = text || k == CellKind::Text;
  }
  return text;
}

// What one pass learns about a column before its type is decided.
struct ColumnState {
  std::string name;
  bool unnamed = false;        // no header, or an empty header cell
  std::vector<double> values;  // NaN where a cell is missing or not a number
  std::int64_t numbers = 0;    // cells that are numbers
  std::int64_t texts = 0;      // non-missing cells that are not numbers
  std::int64_t empties = 0;    // cells with nothing in them
  std::int64_t first_text_line = 0;
  std::string first_text;
  bool dates = true;  // every cell so far is a date/time
  std::vector<std::int64_t> timestamps;
  std::int64_t first_non_date_line = 0;
  std::string first_non_date;

  void not_dates(std::string_view cell, std::int64_t line) {
    if (!dates) return;
    dates = false;
    first_non_date_line = line;
    first_non_date = cell;
    std::vector<std::int64_t>().swap(timestamps);
  }
};

class Loader {
 public:
  Loader(std::string_view text, const std::string& file, const CsvOptions& options)
      : text_(text), file_(file), options_(options) {}

  Table load() {
    if (text_.empty()) throw CsvError(file_, 0, "file is empty");
    if (const std::int64_t at = find_binary_byte(text_); at >= 0) {
      throw CsvError(file_, 0, "not a text file (binary data at byte " + std::to_string(at) + ")");
    }
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte order mark
    if (text_.find('\n') == std::string_view::npos && text_.find('\r') != std::string_view::npos) {
      // Classic Mac line endings (bare CR), still written by some spreadsheet exports.
      lf_text_.assign(text_);
      std::replace(lf_text_.begin(), lf_text_.end(), '\r', '\n');
      text_ = lf_text_;
    }

    table_.file = file_;
    table_.delimiter = options_.delimiter ? options_.delimiter : detect_delimiter(text_);
    Tokenizer tokenizer(text_, table_.delimiter, file_);
    Record record;
    if (!tokenizer.next(&record)) throw CsvError(file_, 0, "file is empty");
    const SavedRecord first(record);
    const bool has_second = tokenizer.next(&record);
    table_.has_header = options_.has_header >= 0
                            ? options_.has_header == 1
                            : looks_like_header(first.record, has_second ? &record : nullptr);
    start_columns(first.record);

    if (!table_.has_header) add_row(first.record);
    if (has_second) {
      add_row(record);
      while (tokenizer.next(&record)) add_row(record);
    }
    if (row_lines_.empty()) throw CsvError(file_, 0, "no data rows");

    classify();
    apply_missing_policy();
    check_timestamps();
    return std::move(table_);
  }

 private:
  void start_columns(const Record& first) {
    const std::size_t n = first.fields.size();
    columns_.resize(n);
    std::unordered_set<std::string_view> seen;
    for (std::size_t j = 0; j < n; ++j) {
      ColumnState& c = columns_[j];
      if (table_.has_header && !first.fields[j].text.empty()) {
        c.name = first.fields[j].text;
      } else {
        c.name = "col" + std::to_string(j + 1);
        c.unnamed = true;
      }
    }
    for (const ColumnState& c : columns_) {
      if (!seen.insert(c.name).second)
        throw CsvError(file_, first.line, "duplicate column name '" + c.name + "'");
    }
    // Newlines bound the number of rows from above; reserving once keeps the pass free of regrowth.
    std::size_t lines = 1;
    for (const char *p = text_.data(), *end = p + text_.size();
         (p = static_cast<const char*>(std::memchr(p, '\n', end - p))); ++p)
      ++lines;
    for (ColumnState& c : columns_) c.values.reserve(lines);
    row_lines_.reserve(lines);
    expected_rows_ = lines;
  }

  void add_row(const Record& record) {
    if (record.fields.size() != columns_.size()) {
      throw CsvError(file_, record.line,
                     "expected " + std::to_string(columns_.size()) + " fields, found " +
                         std::to_string(record.fields.size()) + " (ragged row)");
    }
    row_lines_.push_back(record.line);
    for (std::size_t j = 0; j < columns_.size(); ++j) add_cell(int(j), record.fields[j]);
  }

  void add_cell(int j, const Field& field) {
    ColumnState& c = columns_[j];
    const std::string_view cell = field.text;
    if (is_missing(cell)) {
      c.values.push_back(kNaN);
      if (cell.empty()) ++c.empties;
      missing_cells_.push_back({field.line, j});
      c.not_dates(cell, field.line);
      return;
    }
    double v;
    if (parse_number(cell, &v)) {
      c.values.push_back(v);
      ++c.numbers;
      c.not_dates(cell, field.line);
      return;
    }
    c.values.push_back(kNaN);
    if (c.texts++ == 0) {
      c.first_text_line = field.line;
      c.first_text = cell;
    }
    std::int64_t t;
    if (c.dates && parse_datetime(cell, &t)) {
      if (c.timestamps.capacity() == 0) c.timestamps.reserve(expected_rows_);
      c.timestamps.push_back(t);
    } else {
      c.not_dates(cell, field.line);
    }
  }

  int find_date_column() const {
    if (options_.date_column.empty()) {
      for (std::size_t j = 0; j < columns_.size(); ++j)
        if (columns_[j].dates) return int(j);
      return -1;
    }
    for (std::size_t j = 0; j < columns_.size(); ++j) {
      const ColumnState& c = columns_[j];
      if (c.name != options_.date_column) continue;
      if (!c.dates) {
        throw CsvError(
            file_, c.first_non_date_line,
            "column '" + c.name + "': " + quote_cell(c.first_non_date) + " is not a date/time");
      }
      return int(j);
    }
    throw CsvError(file_, 0, "date column '" + options_.date_column + "' not found");
  }

  // Decides each column's type. A column of numbers with a few stray words is a data error,
  // reported at the first word; a column that is mostly words is text and is skipped.
  void classify() {
    const int date = find_date_column();
    const std::int64_t rows = std::int64_t(row_lines_.size());
    const ColumnState* bad = nullptr;
    std::string decimal_comma;  // why a text column may have been meant as numbers
    for (std::size_t j = 0; j < columns_.size(); ++j) {
      ColumnState& c = columns_[j];
      ColumnInfo info{c.name, ColumnType::Numeric, 0};
      if (int(j) == date) {
        info.type = ColumnType::DateTime;
        table_.date_column = c.name;
        table_.timestamps = std::move(c.timestamps);
      } else if (c.texts > 0 && c.numbers * 2 > c.numbers + c.texts) {
        if (!bad || c.first_text_line < bad->first_text_line) bad = &c;
      } else if (c.texts > 0) {
        info.type = ColumnType::Text;
        std::string warning = "column '" + c.name + "' is not numeric and is ignored";
        if (has_decimal_comma(c.first_text)) {
          const std::string hint =
              quote_cell(c.first_text) + " has a decimal comma; numbers must use '.'";
          warning += " (" + hint + ")";
          if (decimal_comma.empty()) decimal_comma = "column '" + c.name + "': " + hint;
        }
        table_.warnings.push_back(warning);
      } else if (c.unnamed && c.empties == rows) {
        // What a trailing delimiter on every line leaves: no name and no content.
        info.type = ColumnType::Text;
        table_.warnings.push_back("column '" + c.name +
                                  "' has no name and no values and is ignored");
      }
      if (info.type == ColumnType::Numeric) {
        numeric_column_.push_back(int(j));
        table_.numeric_names.push_back(c.name);
        table_.values.push_back(std::move(c.values));
      }
      table_.columns.push_back(std::move(info));
    }
    if (bad) {
      throw CsvError(
          file_, bad->first_text_line,
          "column '" + bad->name + "': " + quote_cell(bad->first_text) + " is not a number");
    }
    if (table_.numeric_names.empty()) {
      throw CsvError(file_, 0,
                     decimal_comma.empty() ? "no numeric column"
                                           : "no numeric column (" + decimal_comma + ")");
    }
  }

  void apply_missing_policy() {
    std::vector<int> numeric_of(columns_.size(), -1);
    for (std::size_t k = 0; k < numeric_column_.size(); ++k)
      numeric_of[numeric_column_[k]] = int(k);
    for (const auto& [line, j] : missing_cells_) {
      if (numeric_of[j] < 0) continue;
      table_.missing.push_back({line, columns_[j].name});
      ++table_.columns[j].missing;
    }
    if (table_.missing.empty()) return;

    const MissingCell& first = table_.missing.front();
    if (options_.missing == MissingPolicy::Reject) {
      throw CsvError(file_, first.line,
                     "missing value in column '" + first.column +
                         "' (policy: " + to_string(MissingPolicy::Reject) + "; use " +
                         to_string(MissingPolicy::FillForward) +
                         " to fill it from the previous row)");
    }
    for (std::size_t k = 0; k < numeric_column_.size(); ++k) {
      const std::string& name = columns_[numeric_column_[k]].name;
      std::vector<double>& v = table_.values[k];
      const auto present =
          std::find_if(v.begin(), v.end(), [](double x) { return !std::isnan(x); });
      if (present == v.end())
        throw CsvError(file_, 0, "column '" + name + "' has no values (every cell is missing)");
      const std::size_t f = std::size_t(present - v.begin());
      if (f > 0) {
        std::fill(v.begin(), present, *present);
        table_.warnings.push_back("column '" + name + "': the first " + std::to_string(f) +
                                  " value(s) are missing; filled backward from line " +
                                  std::to_string(row_lines_[f]));
      }
      for (std::size_t i = f + 1; i < v.size(); ++i)
        if (std::isnan(v[i])) v[i] = v[i - 1];
    }
    table_.warnings.push_back("filled " + std::to_string(table_.missing.size()) +
                              " missing values forward (first: line " + std::to_string(first.line) +
                              ", column '" + first.column + "')");
  }

  // Out-of-order or repeated timestamps are kept as written (the series is read in file order), but
  // the user should know, since windows over them mix unrelated times.
  void check_timestamps() {
    const std::vector<std::int64_t>& t = table_.timestamps;
    std::int64_t earlier = 0, repeated = 0, first_earlier = 0, first_repeated = 0;
    for (std::size_t i = 1; i < t.size(); ++i) {
      if (t[i] < t[i - 1] && earlier++ == 0) first_earlier = row_lines_[i];
      if (t[i] == t[i - 1] && repeated++ == 0) first_repeated = row_lines_[i];
    }
    if (earlier > 0) {
      table_.warnings.push_back(std::to_string(earlier) +
                                " timestamp(s) earlier than the row before (first: line " +
                                std::to_string(first_earlier) + "); rows are kept in file order");
    }
    if (repeated > 0) {
      table_.warnings.push_back(std::to_string(repeated) + " duplicate timestamp(s) (first: line " +
                                std::to_string(first_repeated) + ")");
    }
  }

  std::string_view text_;
  std::string lf_text_;  // a copy of the text with bare CR line endings made LF
  const std::string& file_;
  const CsvOptions& options_;
  Table table_;
  std::vector<ColumnState> columns_;
  std::vector<int> numeric_column_;                          // file column of each numeric column
  std::vector<std::int64_t> row_lines_;                      // physical line of each data row
  std::vector<std::pair<std::int64_t, int>> missing_cells_;  // (line, file column), in file order
  std::size_t expected_rows_ = 0;
};

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw CsvError(path, 0, "cannot open: " + std::generic_category().message(EISDIR));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw CsvError(path, 0, std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  // One read when the size is known (one more byte to see the end), chunks for pipes and the like.
  const auto size = std::filesystem::file_size(path, ec);
  std::size_t chunk = ec ? kReadChunk : std::size_t(size) + 1;
  for (;;) {
    const std::size_t old = text.size();
    text.resize(old + chunk);
    const std::size_t got = std::fread(text.data() + old, 1, chunk, f);
    text.resize(old + got);
    if (got < chunk) break;
    chunk = kReadChunk;
  }
  const bool failed = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (failed) throw CsvError(path, 0, std::string("cannot read: ") + std::strerror(err));
  return text;
}

}  // namespace

CsvError::CsvError(std::string file, std::int64_t line, const std::string& message)
    : std::runtime_error(message_prefix(file, line) + message),
      file_(std::move(file)),
      line_(line) {}

const char* to_string(ColumnType t) {
  switch (t) {
    case ColumnType::Numeric:
      return "numeric";
    case ColumnType::DateTime:
      return "datetime";
    case ColumnType::Text:
      return "text";
  }
  return "?";
}

int Table::numeric_index(const std::string& name) const {
  for (std::size_t j = 0; j < numeric_names.size(); ++j)
    if (numeric_names[j] == name) return int(j);
  return -1;
}

Table read_csv(const std::string& path, const CsvOptions& options) {
  return parse_csv(read_file(path), path, options);
}

Table parse_csv(std::string_view text, const std::string& name, const CsvOptions& options) {
  return Loader(text, name, options).load();
}

bool parse_datetime(std::string_view cell, std::int64_t* seconds) {
  std::size_t i = 0;
  // Reads between min_digits and max_digits decimal digits.
  const auto number = [&](int min_digits, int max_digits, int* value) {
    int n = 0, v = 0;
    while (i < cell.size() && n < max_digits && cell[i] >= '0' && cell[i] <= '9') {
      v = v * 10 + (cell[i++] - '0');
      ++n;
    }
    *value = v;
    return n >= min_digits;
  };
  const auto accept = [&](char c) {
    if (i >= cell.size() || cell[i] != c) return false;
    ++i;
    return true;
  };

  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!number(4, 4, &year)) return false;
  if (i >= cell.size() || (cell[i] != '-' && cell[i] != '/')) return false;
  const char separator = cell[i++];
  if (!number(1, 2, &month) || !accept(separator) || !number(1, 2, &day)) return false;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (accept('T') || accept(' ')) {
    if (!number(1, 2, &hour) || !accept(':') || !number(2, 2, &minute)) return false;
    if (accept(':')) {
      if (!number(2, 2, &second)) return false;
      if (accept('.')) {
        const std::size_t start = i;
        while (i < cell.size() && cell[i] >= '0' && cell[i] <= '9') ++i;
        if (i == start) return false;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return false;
    accept('Z');
  }
  if (i != cell.size()) return false;
  *seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return true;
}

std::string format_datetime(std::int64_t seconds) {
  std::int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {  // floor division, for times before 1970
    rest += 86400;
    --days;
  }
  std::int64_t year;
  int month, day;
  civil_from_days(days, &year, &month, &day);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02d %02d:%02d:%02d",
                static_cast<long long>(year), month, day, int(rest / 3600), int(rest / 60 % 60),
                int(rest % 60));
  return buffer;
}

std::string format_interval(std::int64_t seconds) {
  if (seconds <= 0) return "n/a";
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "min";
  return std::to_string(seconds) + "s";
}

Sampling sampling_of(const Table& table) {
  const std::vector<std::int64_t>& t = table.timestamps;
  Sampling s;
  if (t.size() < 2) return s;
  std::vector<std::int64_t> steps(t.size() - 1);
  for (std::size_t i = 1; i < t.size(); ++i) steps[i - 1] = t[i] - t[i - 1];
  s.regular =
      std::all_of(steps.begin(), steps.end(), [&](std::int64_t d) { return d == steps[0]; });
  if (s.regular) {
    s.interval_seconds = steps[0];
    return s;
  }
  // Mode of the steps; on a tie, the smallest step.
  std::sort(steps.begin(), steps.end());
  std::size_t best_count = 0;
  for (std::size_t i = 0; i < steps.size();) {
    std::size_t k = i;
    while (k < steps.size() && steps[k] == steps[i]) ++k;
    if (k - i > best_count) {
      best_count = k - i;
      s.interval_seconds = steps[i];
    }
    i = k;
  }
  return s;
}

}  // namespace latentcast::data
