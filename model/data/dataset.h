// The dataset of a project: its table (from the CSV file, or the generated demo series) checked
// against the project's column choices. Torch-free: the CLI and the GUI both use it.
#pragma once

#include "estimator/config.h"
#include "model/data/csv.h"
#include "model/data/split.h"

namespace latentcast::data {

// Loads dataset.path (or the demo series for kDemoDatasetPath) with the project's missing-value
// policy and date column. Throws CsvError for the file.
Table load_table(const DatasetConfig& dataset);

// Checks that every configured input and target column is a numeric column of the table. Throws
// std::invalid_argument naming the field: "dataset.target_columns: no numeric column 'X' in f.csv
// (numeric columns: a, b)".
void check_columns(const Table& table, const DatasetConfig& dataset);

// Input columns in use: dataset.columns, or every numeric column when it is empty; likewise
// targets.
std::vector<std::string> input_columns(const Table& table, const DatasetConfig& dataset);
std::vector<std::string> target_columns(const Table& table, const DatasetConfig& dataset);

}  // namespace latentcast::data
