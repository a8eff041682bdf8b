// The Model & Memory tab: every model and memory setting of the project beside a live VRAM
// estimate (total against the capacity, the breakdown as a chart, the saving of each active
// option), "Fit to GPU" from the estimator's recommendation, and a measurement on this machine that
// calibrates the estimate.
#pragma once

#include <QPointer>
#include <QWidget>
#include <functional>

#include "estimator/config.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
#include <QThread>

namespace latentcast::ui {

class MemoryPlanner;
class ProjectSession;

class MemoryPanel : public QWidget {
  Q_OBJECT

 public:
  MemoryPanel(ProjectSession* session, MemoryPlanner* planner, QWidget* parent = nullptr);
  ~MemoryPanel() override;

  // Applies the estimator's plan for the planned device: when the settings do not fit, the
  // cheapest single change that fits (else the largest batch that fits). Returns what it did, for
  // the status bar; empty when nothing was needed.
  QString fit_to_gpu();
  // Measures a short real run on this machine (on a worker thread) and stores the calibration.
  void measure();
  bool measuring() const { return measure_thread_ != nullptr; }

 Q_SIGNALS:
  void error(const QString& message);
  void status(const QString& message);
  void measured();  // a measurement finished (successfully or not)

 private:
  void build_controls(QWidget* host);
  void fill_from_config();  // the project's settings into the controls
  void show_estimate();     // the planner's estimate into the view
  void update_backend_items();
  void apply(const std::function<void(ProjectConfig&)>& edit);

  ProjectSession* session_;
  MemoryPlanner* planner_;
  bool updating_ = false;

  QComboBox* gpu_;
  QComboBox* backend_;
  QComboBox* checkpointing_;
  QComboBox* precision_;
  QSpinBox* batch_;
  QCheckBox* caching_;
  QSpinBox* slice_;
  QSpinBox* window_;
  QSpinBox* overlap_;
  QSpinBox* image_size_;
  QComboBox* latent_factor_;
  QSpinBox* latent_channels_;
  QLineEdit* channels_;
  QLineEdit* attention_levels_;
  QSpinBox* heads_;

  QLabel* total_;
  QProgressBar* capacity_bar_;
  QLabel* margin_;
  QLabel* calibrated_;
  QLabel* detail_;
  QLabel* savings_;
  QCustomPlot* breakdown_;
  QPushButton* fit_;
  QPushButton* measure_;
  QPointer<QThread> measure_thread_;
};

}  // namespace latentcast::ui
