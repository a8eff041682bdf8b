// Tests of the CSV reader: dialects, header and date detection, missing values under both policies,
// every error with its line, date/time parsing, and the write_csv -> read_csv round trip.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include "model/data/csv.h"
#include "model/data/demo_series.h"
#include "tests/support/check.h"

using namespace latentcast;
using namespace latentcast::data;

namespace {

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("LATENTCAST_TEST_TMP");
  const std::filesystem::path root = dir && *dir ? dir : "/tmp";
  std::filesystem::create_directories(root);
  return (root / ("test_csv_" + name)).string();
}

std::string write_file(const std::string& name, const std::string& content) {
  const std::string path = temp_path(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot create " + path);
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return path;
}

CsvOptions fill_forward() {
  CsvOptions o;
  o.missing = MissingPolicy::FillForward;
  return o;
}

bool has_warning(const Table& t, const std::string& needle) {
  for (const auto& w : t.warnings)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

std::int64_t at(const char* text) {
  std::int64_t s = 0;
  if (!parse_datetime(text, &s)) throw std::runtime_error(std::string("not a date: ") + text);
  return s;
}

}  // namespace

// ---- dialects ---------------------------------------------------------------------------------

TEST_CASE("comma file with header and hourly dates") {
  const Table t = parse_csv(
      "date,HUFL,OT\n"
      "2016-07-01 00:00:00,5.827,30.531\n"
      "2016-07-01 01:00:00,5.693,27.787\n"
      "2016-07-01 02:00:00,5.157,27.787\n",
      "ett.csv");
  EXPECT_EQ(t.file, std::string("ett.csv"));
  EXPECT_EQ(t.delimiter, ',');
  EXPECT(t.has_header);
  REQUIRE(t.columns.size() == 3);
  EXPECT_EQ(t.columns[0].name, std::string("date"));
  EXPECT(t.columns[0].type == ColumnType::DateTime);
  EXPECT(t.columns[1].type == ColumnType::Numeric);
  EXPECT_EQ(t.date_column, std::string("date"));
  REQUIRE(t.numeric_names.size() == 2);
  EXPECT_EQ(t.numeric_names[1], std::string("OT"));
  EXPECT_EQ(t.rows(), 3);
  EXPECT_EQ(t.values[0][0], 5.827);
  EXPECT_EQ(t.values[1][2], 27.787);
  REQUIRE(t.timestamps.size() == 3);
  EXPECT_EQ(t.timestamps[0], at("2016-07-01 00:00:00"));
  const Sampling s = sampling_of(t);
  EXPECT_EQ(s.interval_seconds, 3600);
  EXPECT(s.regular);
  EXPECT(t.missing.empty());
  EXPECT(t.warnings.empty());
}

TEST_CASE("semicolon delimiter") {
  const Table t = parse_csv("a;b;c\n1;2;3\n4;5;6\n", "s.csv");
  EXPECT_EQ(t.delimiter, ';');
  REQUIRE(t.numeric_names.size() == 3);
  EXPECT_EQ(t.values[2][1], 6.0);
}

TEST_CASE("tab delimiter") {
  const Table t = parse_csv("a\tb\n1.5\t-2\n3\t4e2\n", "t.tsv");
  EXPECT_EQ(t.delimiter, '\t');
  REQUIRE(t.numeric_names.size() == 2);
  EXPECT_EQ(t.values[0][0], 1.5);
  EXPECT_EQ(t.values[1][0], -2.0);
  EXPECT_EQ(t.values[1][1], 400.0);
}

TEST_CASE("semicolon wins over commas that are inside quotes") {
  const Table t = parse_csv("name;x\n\"a,b,c\";1\n\"d,e\";2\n", "q.csv");
  EXPECT_EQ(t.delimiter, ';');
  REQUIRE(t.columns.size() == 2);
  EXPECT(t.columns[0].type == ColumnType::Text);
}

TEST_CASE("decimal commas: ';' beats ',' and the error says why") {
  EXPECT_THROWS_WITH(parse_csv("1,5;2,5\n1,6;2,6\n", "eu.csv"), CsvError,
                     "eu.csv: no numeric column (column 'col1': \"1,5\" has a decimal comma; "
                     "numbers must use '.')");
  const Table t = parse_csv("date;price;v\n2024-01-01;1,5;1\n2024-01-02;2,5;2\n", "eu.csv");
  EXPECT_EQ(t.delimiter, ';');
  EXPECT(
      has_warning(t, "column 'price' is not numeric and is ignored (\"1,5\" has a decimal comma"));
}

TEST_CASE("classic Mac line endings (bare CR)") {
  const Table t = parse_csv("a,b\r1,2\r3,NA\r", "mac.csv", fill_forward());
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.values[1][1], 2.0);
  REQUIRE(t.missing.size() == 1);
  EXPECT_EQ(t.missing[0].line, 3);
}

TEST_CASE("forced delimiter") {
  CsvOptions o;
  o.delimiter = ';';
  const Table t = parse_csv("a;b\n1;2\n", "f.csv", o);
  EXPECT_EQ(t.delimiter, ';');
  EXPECT_EQ(t.numeric_names.size(), 2u);
  o.delimiter = ',';
  const Table one = parse_csv("a\n1\n2\n", "one.csv", o);
  EXPECT_EQ(one.numeric_names.size(), 1u);
  EXPECT_EQ(one.rows(), 2);
}

TEST_CASE("single column file") {
  const Table t = parse_csv("value\n1\n2\n3", "single.csv");
  REQUIRE(t.numeric_names.size() == 1);
  EXPECT_EQ(t.numeric_names[0], std::string("value"));
  EXPECT_EQ(t.rows(), 3);
  EXPECT_EQ(t.values[0][2], 3.0);
}

TEST_CASE("quoted fields: delimiter, escaped quote and newline inside") {
  const Table t = parse_csv(
      "note,\"x\"\n"
      "\"a, b\",1\n"
      "\"say \"\"hi\"\"\",\"2.5\"\n"
      "\"two\nlines\",3\n"
      "plain,NA\n",
      "quoted.csv", fill_forward());
  REQUIRE(t.columns.size() == 2);
  EXPECT_EQ(t.columns[1].name, std::string("x"));
  EXPECT(t.columns[0].type == ColumnType::Text);
  REQUIRE(t.numeric_names.size() == 1);
  EXPECT_EQ(t.rows(), 4);
  EXPECT_EQ(t.values[0][1], 2.5);
  EXPECT_EQ(t.values[0][2], 3.0);
  // The quoted newline makes the NA row physical line 6, not 5.
  REQUIRE(t.missing.size() == 1);
  EXPECT_EQ(t.missing[0].line, 6);
}

TEST_CASE("quoted header names with escapes") {
  const Table t = parse_csv("\"a \"\"b\"\"\",\"c,d\"\n1,2\n", "qh.csv");
  REQUIRE(t.numeric_names.size() == 2);
  EXPECT_EQ(t.numeric_names[0], std::string("a \"b\""));
  EXPECT_EQ(t.numeric_names[1], std::string("c,d"));
}

TEST_CASE("text after a closing quote is an error") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n\"1\"x,2\n", "bad.csv"), CsvError,
                     "bad.csv:2: unexpected text after the closing quote");
}

TEST_CASE("CRLF line endings") {
  const Table t = parse_csv("date,v\r\n2024-01-01,1\r\n2024-01-02,2\r\n\r\n", "crlf.csv");
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.numeric_names[0], std::string("v"));
  EXPECT_EQ(t.values[0][1], 2.0);
  EXPECT_EQ(sampling_of(t).interval_seconds, 86400);
}

TEST_CASE("CRLF with a missing last cell reports the right line") {
  EXPECT_THROWS_WITH(parse_csv("a,b\r\n1,2\r\n3,\r\n", "crlf.csv"), CsvError,
                     "crlf.csv:3: missing value in column 'b'");
}

TEST_CASE("UTF-8 byte order mark is skipped") {
  const Table t = parse_csv(
      "\xEF\xBB\xBF"
      "date,temp\xC2\xB0\n2024-01-01,1\n",
      "bom.csv");
  EXPECT_EQ(t.columns[0].name, std::string("date"));
  EXPECT_EQ(t.date_column, std::string("date"));
  EXPECT_EQ(t.numeric_names[0], std::string("temp\xC2\xB0"));
}

TEST_CASE("no header: names col1, col2, ...") {
  const Table t = parse_csv("1,2,3\n4,5,6\n", "nohdr.csv");
  EXPECT(!t.has_header);
  REQUIRE(t.numeric_names.size() == 3);
  EXPECT_EQ(t.numeric_names[0], std::string("col1"));
  EXPECT_EQ(t.numeric_names[2], std::string("col3"));
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.values[0][0], 1.0);
}

TEST_CASE("no header with a date column") {
  const Table t = parse_csv("2024-01-01 00:00,1\n2024-01-01 01:00,2\n", "nohdr.csv");
  EXPECT(!t.has_header);
  EXPECT_EQ(t.date_column, std::string("col1"));
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(sampling_of(t).interval_seconds, 3600);
}

TEST_CASE("header option overrides detection") {
  CsvOptions o;
  o.has_header = 1;
  const Table t = parse_csv("2020,2021\n1,2\n", "years.csv", o);
  EXPECT(t.has_header);
  EXPECT_EQ(t.numeric_names[0], std::string("2020"));
  EXPECT_EQ(t.rows(), 1);
  o.has_header = 0;
  const Table n = parse_csv("1,2\n3,4\n", "n.csv", o);
  EXPECT(!n.has_header);
  EXPECT_EQ(n.rows(), 2);
}

TEST_CASE("header detected above missing values and dates") {
  const Table t = parse_csv("a,b\nNA,1\n2,3\n", "h.csv", fill_forward());
  EXPECT(t.has_header);
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.values[0][0], 2.0);  // filled backward
}

// ---- dates
// ---------------------------------------------------------------------------------------

TEST_CASE("date formats: T separator, slashes, Z, fractional seconds") {
  const Table t = parse_csv(
      "time,v\n2024/03/01T00:00:00Z,1\n2024/03/01T00:15:00.500Z,2\n2024/03/01T00:30:00Z,3\n",
      "iso.csv");
  EXPECT_EQ(t.date_column, std::string("time"));
  EXPECT_EQ(sampling_of(t).interval_seconds, 900);
  EXPECT_EQ(t.timestamps[1], at("2024-03-01 00:15:00"));
}

TEST_CASE("date column forced by name, not found, or not dates") {
  CsvOptions o;
  o.date_column = "stamp";
  const Table t = parse_csv("x,stamp\n1,2024-01-01\n2,2024-01-02\n", "d.csv", o);
  EXPECT_EQ(t.date_column, std::string("stamp"));
  EXPECT(t.columns[1].type == ColumnType::DateTime);
  o.date_column = "when";
  EXPECT_THROWS_WITH(parse_csv("x,stamp\n1,2024-01-01\n", "d.csv", o), CsvError,
                     "d.csv: date column 'when' not found");
  o.date_column = "x";
  EXPECT_THROWS_WITH(parse_csv("x,stamp\n2024-01-01,1\nsoon,2\n", "d.csv", o), CsvError,
                     "d.csv:3: column 'x': \"soon\" is not a date/time");
}

TEST_CASE("second date column is text, the first is the date column") {
  const Table t = parse_csv("a,b,v\n2024-01-01,2024-02-01,1\n2024-01-02,2024-02-02,2\n", "dd.csv");
  EXPECT_EQ(t.date_column, std::string("a"));
  EXPECT(t.columns[1].type == ColumnType::Text);
  EXPECT(has_warning(t, "column 'b' is not numeric and is ignored"));
}

TEST_CASE("irregular sampling: the most common step") {
  const Table t = parse_csv(
      "date,v\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n2024-01-01 02:00,3\n"
      "2024-01-01 04:00,4\n2024-01-01 05:00,5\n",
      "gap.csv");
  const Sampling s = sampling_of(t);
  EXPECT_EQ(s.interval_seconds, 3600);
  EXPECT(!s.regular);
  const Table none = parse_csv("v\n1\n2\n", "none.csv");
  EXPECT_EQ(sampling_of(none).interval_seconds, 0);
  EXPECT(sampling_of(none).regular);
}

TEST_CASE("unordered and duplicate timestamps are warnings") {
  const Table t =
      parse_csv("date,v\n2024-01-02,1\n2024-01-01,2\n2024-01-03,3\n2024-01-03,4\n", "order.csv");
  EXPECT_EQ(t.rows(), 4);
  EXPECT(has_warning(t, "1 timestamp(s) earlier than the row before (first: line 3)"));
  EXPECT(has_warning(t, "1 duplicate timestamp(s) (first: line 5)"));
}

TEST_CASE("parse_datetime: valid forms") {
  std::int64_t s = -1;
  EXPECT(parse_datetime("1970-01-01", &s));
  EXPECT_EQ(s, 0);
  EXPECT(parse_datetime("1970-01-01 00:00:01", &s));
  EXPECT_EQ(s, 1);
  EXPECT(parse_datetime("2024-01-01 00:00:00", &s));
  EXPECT_EQ(s, 1704067200);
  EXPECT(parse_datetime("2016-07-01T00:00", &s));
  EXPECT_EQ(s, 1467331200);
  EXPECT(parse_datetime("2016/07/01", &s));
  EXPECT_EQ(s, 1467331200);
  EXPECT(parse_datetime("2016-7-1 5:30", &s));
  EXPECT_EQ(s, 1467331200 + 5 * 3600 + 30 * 60);
  EXPECT(parse_datetime("2016-07-01T23:59:59.999Z", &s));
  EXPECT_EQ(s, 1467331200 + 86399);
  EXPECT(parse_datetime("1969-12-31 23:59:59", &s));
  EXPECT_EQ(s, -1);
  EXPECT(parse_datetime("2024-02-29", &s));
  EXPECT(parse_datetime("2000-02-29", &s));
  EXPECT(parse_datetime("2023-12-31 23:59", &s));
}

TEST_CASE("parse_datetime: invalid forms") {
  std::int64_t s = 0;
  const char* bad[] = {"",
                       "2024",
                       "2024-01",
                       "24-01-01",
                       "2024-13-01",
                       "2024-00-10",
                       "2024-01-00",
                       "2024-01-32",
                       "2023-02-29",
                       "1900-02-29",
                       "2024-04-31",
                       "2024-01-01 24:00",
                       "2024-01-01 12:60",
                       "2024-01-01 12:00:60",
                       "2024-01-01 12",
                       "2024-01-01T",
                       "2024-01-01 12:00:00.",
                       "2024-01-01 12:00 junk",
                       "2024-01/01",
                       "2024.01.01",
                       "2024-01-01Z",
                       "12.5",
                       " 2024-01-01"};
  for (const char* b : bad) {
    if (parse_datetime(b, &s)) ::lctest::report(__FILE__, __LINE__, std::string("accepted ") + b);
  }
}

TEST_CASE("format_datetime and parse_datetime round trip") {
  EXPECT_EQ(format_datetime(0), std::string("1970-01-01 00:00:00"));
  EXPECT_EQ(format_datetime(-1), std::string("1969-12-31 23:59:59"));
  EXPECT_EQ(format_datetime(1709164800), std::string("2024-02-29 00:00:00"));
  for (std::int64_t s = -86400LL * 365 * 80; s < 86400LL * 365 * 100; s += 7919 * 13 + 86400 * 17) {
    std::int64_t back = 0;
    REQUIRE(parse_datetime(format_datetime(s), &back));
    EXPECT_EQ(back, s);
  }
}

// ---- numbers
// -------------------------------------------------------------------------------------

TEST_CASE("number forms: sign, spaces, exponent") {
  const Table t = parse_csv("v\n+1.5\n  2 \n1e3\n-.5\n7.\n", "n.csv");
  REQUIRE(t.rows() == 5);
  EXPECT_EQ(t.values[0][0], 1.5);
  EXPECT_EQ(t.values[0][1], 2.0);
  EXPECT_EQ(t.values[0][2], 1000.0);
  EXPECT_EQ(t.values[0][3], -0.5);
  EXPECT_EQ(t.values[0][4], 7.0);
}

TEST_CASE("bad number in a numeric column names line, column and cell") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,2\n3,4\n5,1.2.3\n6,7\n", "num.csv"), CsvError,
                     "num.csv:4: column 'b': \"1.2.3\" is not a number");
  EXPECT_THROWS_WITH(parse_csv("a\n1\n12abc\n3\n", "num.csv"), CsvError,
                     "num.csv:3: column 'a': \"12abc\" is not a number");
  EXPECT_THROWS_WITH(parse_csv("a\n1\ninf\n3\n", "num.csv"), CsvError, "\"inf\" is not a number");
  EXPECT_THROWS_WITH(parse_csv("a\n1\n+-1\n3\n", "num.csv"), CsvError, "\"+-1\" is not a number");
}

TEST_CASE("the earliest bad cell is reported across columns") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,2\n3,x\ny,4\n5,6\n7,8\n", "e.csv"), CsvError,
                     "e.csv:3: column 'b'");
}

TEST_CASE("text column is listed and ignored with a warning") {
  const Table t = parse_csv("city,v\nParis,1\nRome,2\n12,3\n", "text.csv");
  REQUIRE(t.columns.size() == 2);
  EXPECT(t.columns[0].type == ColumnType::Text);
  EXPECT_EQ(std::string(to_string(t.columns[0].type)), std::string("text"));
  REQUIRE(t.numeric_names.size() == 1);
  EXPECT_EQ(t.numeric_names[0], std::string("v"));
  EXPECT(has_warning(t, "column 'city' is not numeric and is ignored"));
}

TEST_CASE("trailing delimiter leaves an unnamed empty column that is ignored") {
  const Table t = parse_csv("a,b,\n1,2,\n3,4,\n", "trail.csv");
  EXPECT_EQ(t.columns.size(), 3u);
  EXPECT_EQ(t.numeric_names.size(), 2u);
  EXPECT(t.columns[2].type == ColumnType::Text);
  EXPECT(has_warning(t, "has no name and no values"));
}

// ---- blank lines and missing values -------------------------------------------------------------

TEST_CASE("blank lines are skipped and later lines keep their numbers") {
  const Table t = parse_csv("a,b\n\n1,2\n   \n\n3,4\n\n", "blank.csv");
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.values[1][1], 4.0);
  EXPECT_THROWS_WITH(parse_csv("a,b\n\n1,2\n\n\n3\n", "blank.csv"), CsvError,
                     "blank.csv:6: expected 2 fields, found 1 (ragged row)");
  EXPECT_THROWS_WITH(parse_csv("a,b\n\n1,2\n\n3,NA\n", "blank.csv"), CsvError,
                     "blank.csv:5: missing value in column 'b'");
}

TEST_CASE("a line of delimiters is a row of missing values") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,2\n,\n3,4\n", "delims.csv"), CsvError,
                     "delims.csv:3: missing value in column 'a'");
  const Table t = parse_csv("a,b\n1,2\n,\n3,4\n", "delims.csv", fill_forward());
  EXPECT_EQ(t.rows(), 3);
  EXPECT_EQ(t.values[0][1], 1.0);
  EXPECT_EQ(t.values[1][1], 2.0);
  EXPECT_EQ(t.missing.size(), 2u);
}

TEST_CASE("reject: the exact message for the first missing cell") {
  EXPECT_THROWS_WITH(parse_csv("date,OT\n2024-01-01,1\n2024-01-02,NA\n", "data.csv"), CsvError,
                     "data.csv:3: missing value in column 'OT' (policy: reject; use fill_forward "
                     "to fill it from the previous row)");
  try {
    parse_csv("a,b\n1,2\n3,null\n", "data.csv");
    EXPECT(false);
  } catch (const CsvError& e) {
    EXPECT_EQ(e.file(), std::string("data.csv"));
    EXPECT_EQ(e.line(), 3);
  }
}

TEST_CASE("every spelling of a missing value") {
  const char* spellings[] = {"", "NA", "N/A", "NaN", "nan", "null", "NULL", "-", "  "};
  for (const char* m : spellings) {
    // Two columns: in a one-column file an empty cell is a blank line, which is skipped.
    const Table t = parse_csv(std::string("v,w\n1,1\n") + m + ",2\n3,3\n", "m.csv", fill_forward());
    REQUIRE(t.rows() == 3);
    EXPECT_EQ(t.values[0][1], 1.0);
    REQUIRE(t.missing.size() == 1);
    EXPECT_EQ(t.missing[0].line, 3);
  }
}

TEST_CASE("fill forward: values, missing list, counts and warning") {
  const Table t = parse_csv(
      "date,a,b\n"
      "2024-01-01 00:00,1,10\n"
      "2024-01-01 01:00,NA,11\n"
      "2024-01-01 02:00,,N/A\n"
      "2024-01-01 03:00,4,13\n",
      "ff.csv", fill_forward());
  REQUIRE(t.rows() == 4);
  EXPECT_EQ(t.values[0][1], 1.0);
  EXPECT_EQ(t.values[0][2], 1.0);
  EXPECT_EQ(t.values[0][3], 4.0);
  EXPECT_EQ(t.values[1][2], 11.0);
  REQUIRE(t.missing.size() == 3);
  EXPECT_EQ(t.missing[0].line, 3);
  EXPECT_EQ(t.missing[0].column, std::string("a"));
  EXPECT_EQ(t.missing[1].line, 4);
  EXPECT_EQ(t.missing[1].column, std::string("a"));
  EXPECT_EQ(t.missing[2].line, 4);
  EXPECT_EQ(t.missing[2].column, std::string("b"));
  EXPECT_EQ(t.columns[1].missing, 2);
  EXPECT_EQ(t.columns[2].missing, 1);
  EXPECT_EQ(t.columns[0].missing, 0);
  EXPECT(has_warning(t, "filled 3 missing values forward (first: line 3, column 'a')"));
}

TEST_CASE("fill forward: a missing first row is filled backward with a warning") {
  const Table t = parse_csv("a,b\nNA,1\n-,2\n5,3\n6,NA\n", "back.csv", fill_forward());
  REQUIRE(t.rows() == 4);
  EXPECT_EQ(t.values[0][0], 5.0);
  EXPECT_EQ(t.values[0][1], 5.0);
  EXPECT_EQ(t.values[0][3], 6.0);
  EXPECT_EQ(t.values[1][3], 3.0);
  EXPECT(
      has_warning(t, "column 'a': the first 2 value(s) are missing; filled backward from line 4"));
}

TEST_CASE("fill forward: a column with no values is an error") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,NA\n2,NA\n", "allna.csv", fill_forward()), CsvError,
                     "allna.csv: column 'b' has no values");
}

TEST_CASE("missing cells in text columns are not reported") {
  const Table t = parse_csv("name,v\nx,1\n,2\ny,3\n", "tm.csv");
  EXPECT(t.missing.empty());
  EXPECT_EQ(t.columns[0].missing, 0);
}

// ---- errors
// ----------------------------------------------------------------------------------------

TEST_CASE("ragged row names its line") {
  EXPECT_THROWS_WITH(parse_csv("a,b,c\n1,2,3\n4,5\n", "rag.csv"), CsvError,
                     "rag.csv:3: expected 3 fields, found 2 (ragged row)");
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,2\n3,4,5\n", "rag.csv"), CsvError,
                     "rag.csv:3: expected 2 fields, found 3 (ragged row)");
}

TEST_CASE("binary data: NUL bytes and invalid UTF-8") {
  EXPECT_THROWS_WITH(parse_csv(std::string("a,b\n1,\0\n", 8), "bin.csv"), CsvError,
                     "bin.csv: not a text file (binary data at byte 6)");
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,\xFF\n", "bin.csv"), CsvError, "binary data at byte 6");
  EXPECT_THROWS_WITH(parse_csv("temp\xB0,b\n1,2\n", "latin1.csv"), CsvError,
                     "binary data at byte 4");
  EXPECT_THROWS_WITH(parse_csv("a\xE2\x82\n", "cut.csv"), CsvError, "binary data at byte 1");
  const std::string path = write_file("binary.bin", std::string("\x89PNG\r\n\x1A\n\0\0\0", 11));
  EXPECT_THROWS_WITH(read_csv(path), CsvError, "not a text file (binary data at byte 0)");
}

TEST_CASE("empty file and whitespace-only file") {
  EXPECT_THROWS_WITH(parse_csv("", "empty.csv"), CsvError, "empty.csv: file is empty");
  EXPECT_THROWS_WITH(parse_csv("\n \r\n\n", "blank.csv"), CsvError, "blank.csv: file is empty");
  EXPECT_THROWS_WITH(parse_csv("\xEF\xBB\xBF", "bom.csv"), CsvError, "file is empty");
  const std::string path = write_file("empty.csv", "");
  EXPECT_THROWS_WITH(read_csv(path), CsvError, (path + ": file is empty").c_str());
}

TEST_CASE("header only: no data rows") {
  EXPECT_THROWS_WITH(parse_csv("date,a,b\n", "hdr.csv"), CsvError, "hdr.csv: no data rows");
  EXPECT_THROWS_WITH(parse_csv("date,a,b\n\n\n", "hdr.csv"), CsvError, "no data rows");
}

TEST_CASE("no numeric column") {
  EXPECT_THROWS_WITH(parse_csv("name,city\nann,paris\nbob,rome\n", "words.csv"), CsvError,
                     "words.csv: no numeric column");
  EXPECT_THROWS_WITH(parse_csv("date,name\n2024-01-01,x\n", "words.csv"), CsvError,
                     "no numeric column");
}

TEST_CASE("unterminated quote names the line where it starts") {
  EXPECT_THROWS_WITH(parse_csv("a,b\n1,2\n\"3,4\n5,6\n", "uq.csv"), CsvError,
                     "uq.csv:3: unterminated quoted field starting on line 3");
}

TEST_CASE("duplicate column names") {
  EXPECT_THROWS_WITH(parse_csv("a,b,a\n1,2,3\n", "dup.csv"), CsvError,
                     "dup.csv:1: duplicate column name 'a'");
}

TEST_CASE("unreadable files") {
  const std::string missing = temp_path("does_not_exist.csv");
  std::filesystem::remove(missing);
  EXPECT_THROWS_WITH(read_csv(missing), CsvError,
                     (missing + ": cannot open: No such file or directory").c_str());
  const std::string dir = temp_path("a_directory");
  std::filesystem::create_directories(dir);
  EXPECT_THROWS_WITH(read_csv(dir), CsvError, "cannot open: Is a directory");
}

TEST_CASE("long cells are cut in messages and stay on one line") {
  const std::string long_cell(200, 'x');
  try {
    parse_csv("a\n1\n2\n3\n" + long_cell + "\n", "long.csv");
    EXPECT(false);
  } catch (const CsvError& e) {
    const std::string what = e.what();
    EXPECT(what.size() < 120);
    EXPECT(what.find("...\"") != std::string::npos);
    EXPECT(what.find('\n') == std::string::npos);
  }
}

// ---- API odds and ends
// ------------------------------------------------------------------------------

TEST_CASE("CsvError formats, numeric_index and to_string") {
  EXPECT_EQ(std::string(CsvError("f.csv", 17, "boom").what()), std::string("f.csv:17: boom"));
  EXPECT_EQ(std::string(CsvError("f.csv", 0, "boom").what()), std::string("f.csv: boom"));
  EXPECT_EQ(std::string(to_string(ColumnType::Numeric)), std::string("numeric"));
  EXPECT_EQ(std::string(to_string(ColumnType::DateTime)), std::string("datetime"));
  const Table t = parse_csv("x,y\n1,2\n", "i.csv");
  EXPECT_EQ(t.numeric_index("y"), 1);
  EXPECT_EQ(t.numeric_index("z"), -1);
}

// ---- files
// -------------------------------------------------------------------------------------------

TEST_CASE("read_csv reads a file with every feature at once") {
  std::string text =
      "\xEF\xBB\xBF"
      "date;\"load, MW\";note\r\n";
  for (int i = 0; i < 1000; ++i) {
    char row[96];
    std::snprintf(row, sizeof row, "%s;%d.25;\"n;%d\"\r\n",
                  format_datetime(1704067200 + i * 3600).c_str(), i, i);
    text += row;
    if (i % 100 == 0) text += "\r\n";
  }
  const Table t = read_csv(write_file("features.csv", text));
  EXPECT_EQ(t.delimiter, ';');
  EXPECT_EQ(t.rows(), 1000);
  REQUIRE(t.numeric_names.size() == 1);
  EXPECT_EQ(t.numeric_names[0], std::string("load, MW"));
  EXPECT_EQ(t.values[0][999], 999.25);
  EXPECT_EQ(sampling_of(t).interval_seconds, 3600);
  EXPECT(sampling_of(t).regular);
}

TEST_CASE("write_csv then read_csv round trip is exact") {
  Table t;
  t.date_column = "time";
  t.numeric_names = {"a", "b, quoted", "c"};
  t.values.resize(3);
  const double specials[] = {0.1,
                             1.0 / 3.0,
                             -0.0,
                             1e-300,
                             1.7976931348623157e308,
                             123456789.123456789,
                             -2.5e-7,
                             4.9406564584124654e-324};
  for (std::size_t i = 0; i < 200; ++i) {
    t.timestamps.push_back(1704067200 + std::int64_t(i) * 900);
    t.values[0].push_back(specials[i % 8]);
    t.values[1].push_back(std::sin(double(i)) * 1e5);
    t.values[2].push_back(double(i) / 7.0);
  }
  const std::string path = temp_path("roundtrip.csv");
  write_csv(t, path);
  EXPECT(!std::filesystem::exists(path + ".tmp"));
  const Table r = read_csv(path);
  EXPECT_EQ(r.date_column, std::string("time"));
  EXPECT(r.timestamps == t.timestamps);
  EXPECT(r.numeric_names == t.numeric_names);
  REQUIRE(r.values.size() == 3);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT(r.values[j] == t.values[j]);
    for (std::size_t i = 0; i < t.values[j].size(); ++i)
      EXPECT_EQ(std::signbit(r.values[j][i]), std::signbit(t.values[j][i]));
  }
  EXPECT_EQ(sampling_of(r).interval_seconds, 900);
}

TEST_CASE("write_csv of the demo series reads back equal") {
  const Table demo = make_demo_series(500, 3);
  const std::string path = temp_path("demo.csv");
  write_csv(demo, path);
  const Table r = read_csv(path);
  EXPECT(r.numeric_names == demo.numeric_names);
  EXPECT(r.values == demo.values);
  EXPECT(r.timestamps == demo.timestamps);
  EXPECT_EQ(r.date_column, std::string("date"));
}

TEST_CASE("write_csv to an unwritable place throws CsvError") {
  const Table demo = make_demo_series(10, 1);
  EXPECT_THROWS_WITH(write_csv(demo, temp_path("no_such_dir/x.csv")), CsvError, "cannot write");
}

TEST_CASE("format_interval reads as people write intervals") {
  EXPECT_EQ(format_interval(3600), std::string("1h"));
  EXPECT_EQ(format_interval(86400 * 7), std::string("7d"));
  EXPECT_EQ(format_interval(900), std::string("15min"));
  EXPECT_EQ(format_interval(90), std::string("90s"));
  EXPECT_EQ(format_interval(0), std::string("n/a"));
}

LCTEST_MAIN
