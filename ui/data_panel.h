// The Data tab: the loaded series on a chart, its columns (pick targets and which to show), and the
// window and split settings with the split drawn on the chart.
#pragma once

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;
class QTableWidget;
class QTableWidgetItem;

namespace latentcast::ui {

class ProjectSession;
class SeriesPlot;

class DataPanel : public QWidget {
  Q_OBJECT

 public:
  explicit DataPanel(ProjectSession* session, QWidget* parent = nullptr);

  // Column table layout, for tests and for the code below.
  enum Column { kName = 0, kMissing = 1, kTarget = 2, kShow = 3 };
  QTableWidget* columns_table() const { return columns_; }
  SeriesPlot* series_plot() const { return plot_; }
  QLabel* split_label() const { return split_label_; }

 Q_SIGNALS:
  void error(const QString& message);

 private:
  void rebuild();        // a new project: refill everything
  void refresh_split();  // split settings changed: bands and window counts
  void on_item_changed(QTableWidgetItem* item);
  void apply_split();
  void apply_window();
  void replot_series();
  std::vector<std::string> checked(Column column) const;

  ProjectSession* session_;
  QLabel* summary_;
  QTableWidget* columns_;
  SeriesPlot* plot_;
  QComboBox* split_mode_;
  QDoubleSpinBox* train_pct_;
  QDoubleSpinBox* val_pct_;
  QSpinBox* lookback_;
  QSpinBox* horizon_;
  QLabel* split_label_;
  bool updating_ = false;  // true while the panel fills its own widgets
};

}  // namespace latentcast::ui
