#include "ui/engine_job.h"

#include <exception>
#include <new>
#include <stdexcept>

namespace latentcast::ui {

JobError current_error() {
  JobError e;
  e.failed = true;
  try {
    throw;
  } catch (const engine::EngineError& error) {
    e.kind = error.kind();
    e.message = QString::fromStdString(error.what());
  } catch (const std::invalid_argument& error) {
    e.kind = engine::ErrorKind::BadInput;
    e.message = QString::fromStdString(error.what());
  } catch (const std::bad_alloc&) {
    e.kind = engine::ErrorKind::OutOfMemory;
    e.message = QStringLiteral("out of host memory");
  } catch (const std::exception& error) {
    e.message = QString::fromStdString(error.what());
  } catch (...) {
    e.message = QStringLiteral("unknown error");
  }
  return e;
}

QThread* start_job(QObject* context, std::function<void()> work,
                   std::function<void(const JobError&)> done) {
  auto error = std::make_shared<JobError>();
  QThread* thread = QThread::create([work = std::move(work), error] {
    try {
      work();
    } catch (...) {
      *error = current_error();
    }
  });
  QObject::connect(thread, &QThread::finished, context,
                   [done = std::move(done), error] { done(*error); });
  QObject::connect(thread, &QThread::finished, thread, &QObject::deleteLater);
  thread->start();
  return thread;
}

}  // namespace latentcast::ui
