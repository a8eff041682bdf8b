#include "ui/training_controller.h"

#include <QDateTime>
#include <QThread>
#include <filesystem>

#include "model/memory/cpu_memory.h"
#include "ui/engine_job.h"

namespace latentcast::ui {

TrainingController::TrainingController(QObject* parent) : QObject(parent) {}

TrainingController::~TrainingController() {
  if (!thread_) return;
  stop();
  thread_->wait();
}

bool TrainingController::start(const engine::TrainRequest& request) {
  if (thread_) return false;
  if (request.device != "cuda") memory::install_cpu_counter();
  request_ = request;
  outcome_ = {};
  started_ = QDateTime::currentDateTime().toString(Qt::ISODate).toStdString();
  stop_.store(false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_paused_ = false;
  }
  paused_ = false;

  engine::Callbacks callbacks;
  callbacks.stop = &stop_;
  callbacks.on_progress = [this](const engine::Progress& p) {
    outcome_.last = p;
    QMetaObject::invokeMethod(
        this, [this, p] { Q_EMIT progress(p); }, Qt::QueuedConnection);
    // Pausing holds the worker here, between two steps, until resumed or stopped.
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [this] { return !worker_paused_ || stop_.load(); });
  };
  callbacks.on_message = [this](const std::string& m) {
    const QString text = QString::fromStdString(m);
    QMetaObject::invokeMethod(
        this, [this, text] { Q_EMIT message(text); }, Qt::QueuedConnection);
  };
  callbacks.on_stage = [this](const std::string& s) {
    const QString text = QString::fromStdString(s);
    QMetaObject::invokeMethod(
        this, [this, text] { Q_EMIT stage_changed(text); }, Qt::QueuedConnection);
  };
  thread_ = QThread::create([this, callbacks] {
    try {
      const engine::TrainResult result = engine::train(request_, callbacks);
      outcome_.run = result.run;
      outcome_.best_val_loss = result.best_val_loss;
      outcome_.vae_recon_mse = result.vae_recon_mse;
    } catch (...) {
      const JobError e = current_error();
      outcome_.failed = true;
      outcome_.kind = e.kind;
      outcome_.error = e.message;
    }
  });
  QThread* worker = thread_;
  connect(worker, &QThread::finished, this, [this, worker] {
    if (thread_ == worker) on_worker_finished();
  });
  thread_->start();
  Q_EMIT started();
  return true;
}

void TrainingController::on_worker_finished() {
  if (!thread_) return;  // delivered already (wait())
  thread_->deleteLater();
  thread_ = nullptr;
  if (outcome_.failed) {
    // The engine threw: record what is known about the run, and the checkpoint that survived.
    RunRecord& run = outcome_.run;
    const std::filesystem::path dir(request_.run_dir);
    run.started = started_;
    run.device = request_.device;
    run.finished = QDateTime::currentDateTime().toString(Qt::ISODate).toStdString();
    run.id = dir.filename().string();
    run.status = outcome_.kind == engine::ErrorKind::OutOfMemory ? "out_of_memory" : "failed";
    run.steps = outcome_.last.stage == "diffusion" ? outcome_.last.step : 0;
    run.peak_allocated_bytes = outcome_.last.peak_allocated_bytes;
    run.peak_reserved_bytes = outcome_.last.peak_reserved_bytes;
    std::error_code ec;
    if (std::filesystem::exists(dir / "last.pt", ec))
      run.checkpoint_last = (dir / "last.pt").string();
    if (std::filesystem::exists(dir / "best.pt", ec))
      run.checkpoint_best = (dir / "best.pt").string();
  }
  if (paused_) {
    paused_ = false;
    Q_EMIT paused_changed(false);
  }
  Q_EMIT finished(outcome_);
}

void TrainingController::set_paused(bool paused) {
  if (!thread_ || paused == paused_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_paused_ = paused;
  }
  wake_.notify_all();
  paused_ = paused;
  Q_EMIT paused_changed(paused);
}

void TrainingController::stop() {
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_paused_ = false;
  }
  wake_.notify_all();
}

bool TrainingController::wait(int ms) {
  if (!thread_) return true;
  if (!thread_->wait(QDeadlineTimer(ms))) return false;
  on_worker_finished();
  return true;
}

}  // namespace latentcast::ui
