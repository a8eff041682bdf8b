// Project dataset loading and column checks.
#include "model/data/dataset.h"

#include <algorithm>
#include <stdexcept>

#include "model/data/demo_series.h"

namespace latentcast::data {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_names(const Table& table, const std::vector<std::string>& names, const char* field) {
  for (const auto& name : names)
    if (table.numeric_index(name) < 0)
      throw std::invalid_argument(std::string(field) + ": no numeric column '" + name + "' in " +
                                  table.file + " (numeric columns: " + joined(table.numeric_names) +
                                  ")");
}

}  // namespace

Table load_table(const DatasetConfig& dataset) {
  if (dataset.path == kDemoDatasetPath) return make_demo_series();
  if (dataset.path.empty()) throw CsvError("dataset.path", 0, "no data file set");
  CsvOptions options;
  options.missing = dataset.missing;
  options.date_column = dataset.date_column;
  return read_csv(dataset.path, options);
}

void check_columns(const Table& table, const DatasetConfig& dataset) {
  check_names(table, dataset.columns, "dataset.columns");
  check_names(table, dataset.target_columns, "dataset.target_columns");
  if (!dataset.columns.empty())
    for (const auto& t : dataset.target_columns)
      if (std::find(dataset.columns.begin(), dataset.columns.end(), t) == dataset.columns.end())
        throw std::invalid_argument("dataset.target_columns: '" + t +
                                    "' is not among dataset.columns (" + joined(dataset.columns) +
                                    ")");
}

std::vector<std::string> input_columns(const Table& table, const DatasetConfig& dataset) {
  return dataset.columns.empty() ? table.numeric_names : dataset.columns;
}

std::vector<std::string> target_columns(const Table& table, const DatasetConfig& dataset) {
  return dataset.target_columns.empty() ? input_columns(table, dataset) : dataset.target_columns;
}

}  // namespace latentcast::data
