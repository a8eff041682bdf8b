// Chart of the series (QCustomPlot): chosen columns over time, zoom and pan, the train / validation
// / test split drawn as shaded bands.
#pragma once

#include <QWidget>
#include <vector>

#include "model/data/csv.h"
#include "model/data/split.h"

class QCustomPlot;
class QCPItemRect;
class QCPItemText;

namespace latentcast::ui {

class SeriesPlot : public QWidget {
  Q_OBJECT

 public:
  explicit SeriesPlot(QWidget* parent = nullptr);

  // Shows the given numeric columns of `table` (x: timestamps when the table has them, else row
  // index).
  void set_series(const data::Table& table, const std::vector<std::string>& columns);
  // Shades the validation and test ranges; an empty optional hides them.
  void set_split(const data::SplitRows* split);
  void reset_zoom();

  QCustomPlot* plot() const { return plot_; }
  int graph_count() const;
  // The x range covered by a split band, for tests and tooltips; false when hidden.
  bool split_band(int index, double* x0, double* x1) const;

 private:
  double x_of_row(std::int64_t row) const;
  void place_band(int index, const data::RowRange& range);

  QCustomPlot* plot_;
  QCPItemRect* bands_[3] = {nullptr, nullptr, nullptr};   // train, val, test
  QCPItemText* labels_[3] = {nullptr, nullptr, nullptr};  // their names, at the top of each band
  std::vector<double> x_;                                 // x of every row
};

}  // namespace latentcast::ui
