// Runs one engine call (forecast, evaluate, measure) on a worker thread and hands its result to the
// GUI thread, so the window never waits on the model. Errors are caught on the worker and arrive as
// a message, the way the CLI would print them.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <functional>
#include <memory>

#include "model/engine.h"

namespace latentcast::ui {

struct JobError {
  bool failed = false;
  engine::ErrorKind kind = engine::ErrorKind::Internal;
  QString message;
};

// Runs `work` on a new thread; `done` runs on `context`'s thread afterwards with what `work`
// threw (if anything). The returned thread deletes itself when finished; callers that may be
// destroyed first keep it to wait on (QThread::wait).
QThread* start_job(QObject* context, std::function<void()> work,
                   std::function<void(const JobError&)> done);

// The message and kind of the exception being handled (call inside a catch block).
JobError current_error();

}  // namespace latentcast::ui
