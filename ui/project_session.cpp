// Project loading, import and saving for the GUI, with the loaders' messages passed through
// unchanged.
#include "ui/project_session.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <stdexcept>

#include "app/project/estimate_target.h"
#include "model/data/dataset.h"
#include "model/data/demo_series.h"
#include "ui/app_paths.h"

namespace latentcast::ui {
namespace {

std::string local(const QString& s) {
  return s.toLocal8Bit().toStdString();
}
QString text(const std::string& s) {
  return QString::fromLocal8Bit(s.c_str());
}

// Runs a loader; converts the errors a user can cause into their message.
template <class F>
QString guarded(F&& f) {
  try {
    f();
    return {};
  } catch (const data::CsvError& e) {
    return text(e.what());
  } catch (const project::ProjectError& e) {
    return text(e.what());
  } catch (const std::invalid_argument& e) {
    return text(e.what());
  } catch (const std::bad_alloc&) {
    return QStringLiteral("out of memory while loading");
  } catch (const std::runtime_error& e) {
    return text(e.what());
  }
}

}  // namespace

ProjectSession::ProjectSession(QObject* parent) : QObject(parent) {}

QString ProjectSession::data_label() const {
  if (config_.dataset.path == data::kDemoDatasetPath) return tr("Built-in demo series (generated)");
  return QFileInfo(text(config_.dataset.path)).fileName();
}

QString ProjectSession::display_name() const {
  const QString base = path_.isEmpty() ? text(config_.name) : QFileInfo(path_).fileName();
  return dirty_ ? base + QStringLiteral(" *") : base;
}

QString ProjectSession::load_demo() {
  return guarded([&] {
    ProjectConfig config = project::demo_project();
    data::Table table = data::load_table(config.dataset);
    replace(std::move(config), std::move(table), {}, false);
  });
}

QString ProjectSession::open_project(const QString& path) {
  return guarded([&] {
    ProjectConfig config = project::load(local(path));
    data::Table table = data::load_table(config.dataset);
    data::check_columns(table, config.dataset);
    replace(std::move(config), std::move(table), QFileInfo(path).absoluteFilePath(), false);
  });
}

QString ProjectSession::import_csv(const QString& path) {
  return guarded([&] {
    const std::string file = local(QFileInfo(path).absoluteFilePath());
    // Missing values are filled forward and the user is told (MainWindow shows table().warnings);
    // the project records the policy so training reads the file the same way.
    data::CsvOptions options;
    options.missing = MissingPolicy::FillForward;
    data::Table table = data::read_csv(file, options);
    ProjectConfig config = project::make_default(file, table.numeric_names, {}, table.date_column);
    if (!table.missing.empty()) config.dataset.missing = MissingPolicy::FillForward;
    replace(std::move(config), std::move(table), {}, true);
  });
}

QString ProjectSession::save_to(const QString& path) {
  return guarded([&] {
    project::save(config_, local(path));
    path_ = QFileInfo(path).absoluteFilePath();
    set_dirty(false);
  });
}

QString ProjectSession::change(const std::function<void(ProjectConfig&)>& edit) {
  ProjectConfig candidate = config_;
  edit(candidate);
  const QString error = guarded([&] {
    project::validate(candidate);
    data::check_columns(table_, candidate.dataset);
  });
  if (!error.isEmpty()) return error;
  config_ = std::move(candidate);
  set_dirty(true);
  Q_EMIT config_changed();
  return {};
}

QString ProjectSession::set_target_columns(const std::vector<std::string>& targets) {
  return change([&](ProjectConfig& c) { c.dataset.target_columns = targets; });
}

QString ProjectSession::set_split(const SplitConfig& split) {
  return change([&](ProjectConfig& c) { c.dataset.split = split; });
}

QString ProjectSession::set_window(int lookback, int horizon) {
  return change([&](ProjectConfig& c) {
    c.dataset.lookback = lookback;
    c.dataset.horizon = horizon;
  });
}

QString ProjectSession::apply_settings(const std::vector<std::string>& key_values) {
  ProjectConfig candidate = config_;
  const QString error = guarded([&] { project::apply_overrides(candidate, key_values); });
  if (!error.isEmpty()) return error;
  return change([&](ProjectConfig& c) { c = candidate; });
}

void ProjectSession::add_run(const RunRecord& run) {
  config_.runs.push_back(run);
  set_dirty(true);
  Q_EMIT runs_changed();
}

void ProjectSession::add_calibration(const Calibration& calibration) {
  project::store_calibration(config_.calibrations, calibration);
  set_dirty(true);
  Q_EMIT config_changed();
}

QString ProjectSession::new_run_dir() const {
  QDir base;
  const QFileInfo file(path_);
  // Beside the project when its folder is writable; a project opened from a read-only place (the
  // installed demo in /usr/share) keeps its runs in the user's data folder instead.
  if (!path_.isEmpty() && QFileInfo(file.absolutePath()).isWritable()) {
    base = QDir(file.absolutePath() + QLatin1Char('/') + file.completeBaseName() +
                QStringLiteral(".runs"));
  } else {
    base = QDir(user_data_dir() + QStringLiteral("/runs/") + text(config_.name));
  }
  const QString stamp = QStringLiteral("run-") +
                        QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  QString id = stamp;
  for (int n = 2; base.exists(id); ++n) id = stamp + QLatin1Char('-') + QString::number(n);
  return base.absoluteFilePath(id);
}

void ProjectSession::replace(ProjectConfig config, data::Table table, QString path, bool dirty) {
  config_ = std::move(config);
  table_ = std::move(table);
  path_ = std::move(path);
  dirty_ = dirty;
  Q_EMIT project_replaced();
  Q_EMIT dirty_changed(dirty_);
}

void ProjectSession::set_dirty(bool dirty) {
  if (dirty_ == dirty) return;
  dirty_ = dirty;
  Q_EMIT dirty_changed(dirty_);
}

}  // namespace latentcast::ui
