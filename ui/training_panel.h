// The Training tab: the training settings, start / pause / stop / resume from a checkpoint, live
// charts (loss with validation, smoothing and a log scale; learning rate; measured peak memory
// against the estimate), a progress bar with step, epoch, speed and ETA, a log, a summary, the run
// history (each run's curves shown again when selected) and the out-of-memory dialog, which names
// the estimate, the measured peak and the estimator's cheapest changes that fit.
#pragma once

#include <QWidget>
#include <vector>

#include "estimator/config.h"
#include "model/engine.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTimer;

namespace latentcast::ui {

class MemoryPlanner;
class ProjectSession;
class TrainingController;
struct TrainingOutcome;

class TrainingPanel : public QWidget {
  Q_OBJECT

 public:
  TrainingPanel(ProjectSession* session, MemoryPlanner* planner, QWidget* parent = nullptr);
  ~TrainingPanel() override;

  TrainingController* controller() const { return controller_; }
  // Starts a new run, or continues from a checkpoint (a .pt of an earlier run).
  bool start(const QString& resume_from = {});
  // Continues the selected run from its last checkpoint, or asks for a checkpoint file.
  void resume_selected();
  // The engine option that raises out-of-memory at a stage-2 step (0: off); for tests and demos.
  void set_simulated_oom_step(std::int64_t step) { simulated_oom_step_ = step; }

  QCustomPlot* loss_plot() const { return loss_plot_; }
  QCustomPlot* lr_plot() const { return lr_plot_; }
  QCustomPlot* memory_plot() const { return memory_plot_; }
  QProgressBar* progress_bar() const { return progress_; }
  QTableWidget* runs_table() const { return runs_; }
  QLabel* summary_label() const { return summary_; }
  QPlainTextEdit* log() const { return log_; }

 Q_SIGNALS:
  void error(const QString& message);
  void status(const QString& message);
  void run_finished();

 private:
  struct Curves {  // what the charts show, and what the run record keeps
    std::vector<double> step, stage, loss, val_loss, lr, allocated, reserved;
    void clear();
    void add(double x, const engine::Progress& p);
    void thin();  // halves the points when they exceed the limit
  };

  void build();
  void fill_from_config();
  void apply(const std::function<void(ProjectConfig&)>& edit);
  void update_buttons();
  void on_progress(const engine::Progress& p);
  void on_finished(const TrainingOutcome& outcome);
  void show_oom_dialog(const TrainingOutcome& outcome);
  void show_curves(const Curves& curves, double estimate_bytes);
  void replot();
  void refill_runs();
  void show_run(int index);
  void append_log(const QString& line);
  RunRecord with_curves(RunRecord run) const;

  ProjectSession* session_;
  MemoryPlanner* planner_;
  TrainingController* controller_;
  bool updating_ = false;
  std::int64_t simulated_oom_step_ = 0;

  QComboBox* device_;
  QSpinBox* vae_steps_;
  QSpinBox* steps_;
  QDoubleSpinBox* lr_;
  QSpinBox* validate_every_;
  QSpinBox* seed_;
  QPushButton* start_;
  QPushButton* pause_;
  QPushButton* stop_;
  QPushButton* resume_;
  QProgressBar* progress_;
  QLabel* progress_text_;
  QLabel* summary_;
  QCustomPlot* loss_plot_;
  QCustomPlot* lr_plot_;
  QCustomPlot* memory_plot_;
  QCheckBox* log_scale_;
  QDoubleSpinBox* smoothing_;
  QPlainTextEdit* log_;
  QTableWidget* runs_;
  QTimer* replot_timer_;
  bool needs_replot_ = false;

  Curves curves_;
  double estimate_bytes_ = 0;  // the estimate when the run started (CPU: allocated, CUDA: reserved)
  std::int64_t vae_steps_total_ = 0;
  QString run_dir_;
};

}  // namespace latentcast::ui
