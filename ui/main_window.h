// The main window: a thin shell of menus, toolbar, tabs and status bar around the panels, owning
// the project session and the file actions (open, import, save, recent files, drag and drop).
#pragma once

#include <QMainWindow>
#include <QStringList>

class QAction;
class QMenu;
class QMessageBox;
class QTabWidget;

namespace latentcast::ui {

class DataPanel;
class ForecastPanel;
class MemoryPanel;
class MemoryPlanner;
class ProjectSession;
class TrainingPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);

  ProjectSession* session() const { return session_; }
  DataPanel* data_panel() const { return data_panel_; }
  MemoryPlanner* planner() const { return planner_; }
  MemoryPanel* memory_panel() const { return memory_panel_; }
  TrainingPanel* training_panel() const { return training_panel_; }
  ForecastPanel* forecast_panel() const { return forecast_panel_; }
  QTabWidget* tabs() const { return tabs_; }
  // The message of the last error shown to the user (empty if none yet).
  const QString& last_error() const { return last_error_; }
  QStringList recent_files() const;

  // Opens a .lcproj as a project, anything else as a CSV to import. Asks about unsaved changes
  // first. Returns true when the file was loaded; on failure an error dialog shows the loader's
  // message and the current project stays.
  bool open_path(const QString& path);
  bool save();                        // to the project's path, or asks for one
  bool save_as(const QString& path);  // without a dialog (empty: ask)
  bool load_demo();

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private Q_SLOTS:
  void show_status(const QString& message);

 private:
  void create_actions();
  void open_dialog();
  void import_dialog();
  bool maybe_save();  // true when it is fine to replace the current project
  void show_error(const QString& title, const QString& message);
  void show_warnings();
  void add_recent(const QString& path);
  void rebuild_recent_menu();
  void update_title();

  ProjectSession* session_;
  QTabWidget* tabs_;
  DataPanel* data_panel_;
  MemoryPlanner* planner_;
  MemoryPanel* memory_panel_;
  TrainingPanel* training_panel_;
  ForecastPanel* forecast_panel_;
  QMenu* recent_menu_ = nullptr;
  QString last_error_;
};

}  // namespace latentcast::ui
