// Runs engine::train on a worker thread (DESIGN.md section 5) and reports back on the GUI thread:
// every step's progress, the engine's messages and the outcome. Pause blocks the worker between
// two steps; stop asks the engine to checkpoint and return. The GUI thread never waits on the
// model, except in wait(), which shutdown and tests use.
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "model/engine.h"

#include <QThread>

namespace latentcast::ui {

struct TrainingOutcome {
  RunRecord run;  // also for a failed run: status "failed" or "out_of_memory"
  bool failed = false;
  engine::ErrorKind kind = engine::ErrorKind::Internal;
  QString error;  // the engine's message when failed
  double best_val_loss = -1;
  double vae_recon_mse = -1;
  engine::Progress last;  // the last progress report (the peak reached before a failure)
};

class TrainingController : public QObject {
  Q_OBJECT

 public:
  explicit TrainingController(QObject* parent = nullptr);
  ~TrainingController() override;  // stops a run and waits for it

  bool running() const { return thread_ != nullptr; }
  bool paused() const { return paused_; }
  // Starts a run; false when one is running already. CPU runs count LibTorch's CPU bytes
  // (model/memory/cpu_memory.h) so the memory chart has a measured peak everywhere.
  bool start(const engine::TrainRequest& request);
  void set_paused(bool paused);
  void stop();
  // Waits up to `ms` for the worker to end and delivers its outcome; true when it has ended.
  bool wait(int ms);

 Q_SIGNALS:
  void started();
  void stage_changed(const QString& stage);
  void progress(const latentcast::engine::Progress& progress);
  void message(const QString& message);
  void paused_changed(bool paused);
  void finished(const latentcast::ui::TrainingOutcome& outcome);

 private:
  void on_worker_finished();

  QPointer<QThread> thread_;
  std::atomic<bool> stop_{false};
  bool paused_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool worker_paused_ = false;  // guarded by mutex_: what the worker obeys
  engine::TrainRequest request_;
  TrainingOutcome outcome_;  // written by the worker, read after it ends
  std::string started_;
};

}  // namespace latentcast::ui
