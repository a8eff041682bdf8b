// The Forecast tab: pick a window (the end of the data, or a point of the test split by clicking
// the chart), draw K samples from the latest run's best checkpoint on a worker thread, show the fan
// chart (median, 50 % and 90 % bands) over the history and the actual values, score the model
// beside the baselines on the test split, and export the forecast as CSV (the format of
// `latentcast-cli forecast`) and the chart as PNG or PDF.
#pragma once

#include <QPointer>
#include <QWidget>

#include "model/engine.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTableWidget;
#include <QThread>

namespace latentcast::ui {

class ProjectSession;

class ForecastPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ForecastPanel(ProjectSession* session, QWidget* parent = nullptr);
  ~ForecastPanel() override;

  // The checkpoint forecasts come from: the best of the newest run that has one, or empty.
  const QString& checkpoint() const { return checkpoint_; }
  // Starts a forecast at the chosen window (on a worker thread); false when one is running or
  // there is no checkpoint.
  bool run_forecast();
  bool run_evaluation();
  bool busy() const { return job_ != nullptr; }
  // Forecast origin: -1 for the end of the data, else a row of the test split.
  void set_origin(std::int64_t row);
  std::int64_t origin() const;
  bool export_csv(const QString& path);
  bool export_chart(const QString& path);  // .png or .pdf by extension

  const engine::Forecast& forecast() const { return forecast_; }
  QCustomPlot* plot() const { return plot_; }
  QTableWidget* metrics_table() const { return metrics_; }
  QSpinBox* samples_spin() const { return samples_; }
  QSpinBox* seed_spin() const { return seed_; }

 Q_SIGNALS:
  void error(const QString& message);
  void status(const QString& message);
  void forecast_ready();
  void evaluation_ready();

 private:
  void refresh_checkpoint();  // after a project or run change
  void refresh_sources();     // test split, columns, K and seed after any settings change
  void redraw();
  void update_buttons();

  ProjectSession* session_;
  QLabel* checkpoint_label_;
  QRadioButton* at_end_;
  QRadioButton* at_row_;
  QSpinBox* origin_;
  QSpinBox* samples_;
  QSpinBox* seed_;
  QComboBox* column_;
  QPushButton* forecast_button_;
  QPushButton* evaluate_button_;
  QPushButton* export_csv_button_;
  QPushButton* export_chart_button_;
  QSpinBox* max_windows_;
  QCustomPlot* plot_;
  QTableWidget* metrics_;
  QPointer<QThread> job_;
  engine::Forecast forecast_;
  QString checkpoint_;
};

}  // namespace latentcast::ui
