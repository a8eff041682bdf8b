// The document the window edits: the project configuration, where it is saved, whether it has
// unsaved changes, and its loaded data. Every load happens into temporaries first, so a failed open
// leaves the current project exactly as it was.
#pragma once

#include <QObject>
#include <QString>
#include <functional>
#include <string>
#include <vector>

#include "app/project/project.h"
#include "model/data/csv.h"

namespace latentcast::ui {

class ProjectSession : public QObject {
  Q_OBJECT

 public:
  explicit ProjectSession(QObject* parent = nullptr);

  // Each returns an empty string on success or the loader's message (nothing changes on failure).
  QString load_demo();
  QString open_project(const QString& path);
  QString import_csv(const QString& path);  // a new, unsaved project with defaults for this CSV
  QString save_to(const QString& path);     // becomes the project's path on success

  const ProjectConfig& config() const { return config_; }
  const data::Table& table() const { return table_; }
  const QString& path() const { return path_; }  // empty until saved
  bool dirty() const { return dirty_; }
  QString display_name() const;  // window title: file name (or project name) and " *" when dirty
  QString data_label() const;    // the data file's name, or a description of the demo series

  // Edits from the panels: validated like the file; on failure nothing changes and the message
  // returns.
  QString set_target_columns(const std::vector<std::string>& targets);
  QString set_split(const SplitConfig& split);
  QString set_window(int lookback, int horizon);
  // Any change of the settings (the memory panel's controls), validated the same way.
  QString change(const std::function<void(ProjectConfig&)>& edit);
  // Settings as the CLI's --set takes them ("memory.batch_size=8"): the estimator's
  // recommendations and the out-of-memory dialog apply theirs this way.
  QString apply_settings(const std::vector<std::string>& key_values);
  // A finished (or stopped, or failed) training run joins the history; a measurement replaces the
  // calibration of its device. Both make the project dirty.
  void add_run(const RunRecord& run);
  void add_calibration(const Calibration& calibration);
  // Where a new training run writes its checkpoints: beside the project file
  // (NAME.runs/ID, as the CLI does), or under the user's data folder for an unsaved project or one
  // in a read-only folder.
  QString new_run_dir() const;

 Q_SIGNALS:
  void project_replaced();  // a different project (and table) is loaded
  void config_changed();    // the current project's settings changed
  void dirty_changed(bool dirty);
  void runs_changed();  // the run history changed

 private:
  void replace(ProjectConfig config, data::Table table, QString path, bool dirty);
  void set_dirty(bool dirty);

  ProjectConfig config_;
  data::Table table_;
  QString path_;
  bool dirty_ = false;
};

}  // namespace latentcast::ui
