#include "app/project/forecast_csv.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "model/data/csv.h"

namespace latentcast::project {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string forecast_csv(const engine::Forecast& fc) {
  std::string csv = std::string(fc.timestamps.empty() ? "row" : "timestamp") +
                    ",column,q05,q25,median,q75,q95,actual\n";
  for (std::size_t h = 0; h < fc.rows.size(); ++h)
    for (std::size_t c = 0; c < fc.columns.size(); ++c) {
      csv += fc.timestamps.empty() ? std::to_string(fc.rows[h])
                                   : data::format_datetime(fc.timestamps[h]);
      csv += "," + fc.columns[c] + "," + fmt(fc.q05[h][c]) + "," + fmt(fc.q25[h][c]) + "," +
             fmt(fc.median[h][c]) + "," + fmt(fc.q75[h][c]) + "," + fmt(fc.q95[h][c]) + "," +
             (fc.actual.empty() ? "" : fmt(fc.actual[h][c])) + "\n";
    }
  return csv;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream file(tmp, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!(file << text) || !file.flush()) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw std::runtime_error("cannot write " + path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot write " + path + ": " + ec.message());
}

}  // namespace latentcast::project
