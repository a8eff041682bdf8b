// Main window: file actions and the window frame; the panels do the work.
#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QToolBar>

#include "ui/data_panel.h"
#include "ui/forecast_panel.h"
#include "ui/memory_panel.h"
#include "ui/memory_planner.h"
#include "ui/project_session.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"

// Resources compiled into a static library are registered only when asked, at global scope.
static void register_latentcast_resources() {
  Q_INIT_RESOURCE(latentcast);
}

namespace latentcast::ui {
namespace {

constexpr int kMaxRecent = 10;
const QString kRecentKey = QStringLiteral("recent_files");
const QString kGeometryKey = QStringLiteral("window/geometry");
const QString kStateKey = QStringLiteral("window/state");

bool is_project_file(const QString& path) {
  return path.endsWith(QStringLiteral(".lcproj"), Qt::CaseInsensitive);
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), session_(new ProjectSession(this)), tabs_(new QTabWidget(this)) {
  static const bool registered = (register_latentcast_resources(), true);
  (void)registered;
  setObjectName(QStringLiteral("mainWindow"));
  setWindowIcon(QIcon(QStringLiteral(":/icons/latentcast.svg")));
  QApplication::setWindowIcon(windowIcon());
  setAcceptDrops(true);
  data_panel_ = new DataPanel(session_, this);
  planner_ = new MemoryPlanner(session_, this);
  memory_panel_ = new MemoryPanel(session_, planner_, this);
  training_panel_ = new TrainingPanel(session_, planner_, this);
  forecast_panel_ = new ForecastPanel(session_, this);
  tabs_->addTab(data_panel_, tr("&Data"));
  tabs_->addTab(memory_panel_, tr("&Model && Memory"));
  tabs_->addTab(training_panel_, tr("&Training"));
  tabs_->addTab(forecast_panel_, tr("&Forecast"));
  setCentralWidget(tabs_);
  create_actions();
  statusBar()->showMessage(tr("Ready"));

  connect(session_, &ProjectSession::dirty_changed, this, &MainWindow::update_title);
  connect(session_, &ProjectSession::project_replaced, this, &MainWindow::update_title);
  connect(data_panel_, &DataPanel::error, this,
          [this](const QString& message) { show_error(tr("Invalid setting"), message); });
  connect(memory_panel_, &MemoryPanel::error, this,
          [this](const QString& message) { show_error(tr("Model & Memory"), message); });
  connect(training_panel_, &TrainingPanel::error, this,
          [this](const QString& message) { show_error(tr("Training"), message); });
  connect(forecast_panel_, &ForecastPanel::error, this,
          [this](const QString& message) { show_error(tr("Forecast"), message); });
  for (QObject* panel :
       std::initializer_list<QObject*>{memory_panel_, training_panel_, forecast_panel_})
    connect(panel, SIGNAL(status(QString)), this, SLOT(show_status(QString)));

  QSettings settings;
  restoreGeometry(settings.value(kGeometryKey).toByteArray());
  restoreState(settings.value(kStateKey).toByteArray());
  if (!settings.contains(kGeometryKey)) resize(1280, 780);
  update_title();
}

void MainWindow::create_actions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QToolBar* bar = addToolBar(tr("File"));
  bar->setObjectName(QStringLiteral("fileToolBar"));
  const auto icon = [this](QStyle::StandardPixmap p) { return style()->standardIcon(p); };

  QAction* open = file->addAction(icon(QStyle::SP_DialogOpenButton), tr("&Open..."), this,
                                  &MainWindow::open_dialog);
  open->setShortcut(QKeySequence::Open);
  open->setStatusTip(tr("Open a project (.lcproj) or a CSV file"));
  QAction* import = file->addAction(icon(QStyle::SP_FileIcon), tr("&Import CSV..."), this,
                                    &MainWindow::import_dialog);
  import->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_I));
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  file->addAction(tr("Open &Demo Project"), this, [this] { load_demo(); });
  file->addSeparator();
  QAction* save_action =
      file->addAction(icon(QStyle::SP_DialogSaveButton), tr("&Save"), this, [this] { save(); });
  save_action->setShortcut(QKeySequence::Save);
  QAction* save_as_action = file->addAction(tr("Save &As..."), this, [this] { save_as({}); });
  save_as_action->setShortcut(QKeySequence::SaveAs);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  bar->addAction(open);
  bar->addAction(import);
  bar->addAction(save_action);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About Latentcast"), this, [this] {
    QMessageBox::about(this, tr("About Latentcast"),
                       tr("<b>Latentcast %1</b><p>Latent-diffusion forecasting with a live VRAM "
                          "estimate.</p>")
                           .arg(QStringLiteral(LATENTCAST_VERSION)));
  });
  rebuild_recent_menu();
}

void MainWindow::show_status(const QString& message) {
  statusBar()->showMessage(message, 8000);
}

void MainWindow::update_title() {
  setWindowTitle(session_->display_name().remove(QStringLiteral(" *")) +
                 QStringLiteral("[*] - Latentcast"));
  setWindowModified(session_->dirty());
}

bool MainWindow::load_demo() {
  if (!maybe_save()) return false;
  const QString error = session_->load_demo();
  if (!error.isEmpty()) {
    show_error(tr("Cannot load the demo project"), error);
    return false;
  }
  statusBar()->showMessage(tr("Demo project loaded (generated series)"), 5000);
  return true;
}

bool MainWindow::open_path(const QString& path) {
  if (!maybe_save()) return false;
  const bool project = is_project_file(path);
  const QString error = project ? session_->open_project(path) : session_->import_csv(path);
  if (!error.isEmpty()) {
    show_error(project ? tr("Cannot open project") : tr("Cannot import CSV"), error);
    return false;
  }
  add_recent(QFileInfo(path).absoluteFilePath());
  statusBar()->showMessage(tr("Loaded %1").arg(QDir::toNativeSeparators(path)), 5000);
  show_warnings();
  return true;
}

void MainWindow::open_dialog() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Open project or CSV"), QString(),
                                   tr("Projects and data (*.lcproj *.csv *.tsv *.txt);;Projects "
                                      "(*.lcproj);;CSV files (*.csv *.tsv "
                                      "*.txt);;All files (*)"));
  if (!path.isEmpty()) open_path(path);
}

void MainWindow::import_dialog() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Import CSV"), QString(), tr("CSV files (*.csv *.tsv *.txt);;All files (*)"));
  if (!path.isEmpty()) open_path(path);
}

bool MainWindow::save() {
  if (session_->path().isEmpty()) return save_as({});
  return save_as(session_->path());
}

bool MainWindow::save_as(const QString& target) {
  QString path = target;
  if (path.isEmpty()) {
    path = QFileDialog::getSaveFileName(
        this, tr("Save project"),
        QString::fromStdString(session_->config().name) + QStringLiteral(".lcproj"),
        tr("Projects (*.lcproj)"));
    if (path.isEmpty()) return false;
    if (!is_project_file(path)) path += QStringLiteral(".lcproj");
  }
  const QString error = session_->save_to(path);
  if (!error.isEmpty()) {
    show_error(tr("Cannot save project"), error);
    return false;
  }
  add_recent(session_->path());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(session_->path())), 5000);
  return true;
}

bool MainWindow::maybe_save() {
  if (training_panel_->controller()->running()) {
    QMessageBox box(QMessageBox::Question, tr("Training is running"),
                    tr("A training run is in progress. Stop it (a checkpoint is saved) and "
                       "continue?"),
                    QMessageBox::Yes | QMessageBox::Cancel, this);
    box.setObjectName(QStringLiteral("stopTrainingPrompt"));
    if (box.exec() != QMessageBox::Yes) return false;
    training_panel_->controller()->stop();
    training_panel_->controller()->wait(-1);
  }
  if (!session_->dirty()) return true;
  QMessageBox box(QMessageBox::Warning, tr("Unsaved changes"),
                  tr("The project \"%1\" has unsaved changes.").arg(session_->display_name()),
                  QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
  box.setObjectName(QStringLiteral("unsavedPrompt"));
  box.setInformativeText(tr("Save them before continuing?"));
  box.setDefaultButton(QMessageBox::Save);
  switch (box.exec()) {
    case QMessageBox::Save:
      return save();
    case QMessageBox::Discard:
      return true;
    default:
      return false;
  }
}

void MainWindow::show_error(const QString& title, const QString& message) {
  last_error_ = message;
  statusBar()->showMessage(message, 10000);
  // Window-modal but not blocking: the event loop (and any training) keeps running.
  auto* box = new QMessageBox(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
  box->setObjectName(QStringLiteral("errorDialog"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::show_warnings() {
  const auto& warnings = session_->table().warnings;
  if (warnings.empty()) return;
  QString text;
  for (const auto& w : warnings) text += QString::fromStdString(w) + QLatin1Char('\n');
  auto* box = new QMessageBox(QMessageBox::Information, tr("Imported with warnings"),
                              text.trimmed(), QMessageBox::Ok, this);
  box->setObjectName(QStringLiteral("warningDialog"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

QStringList MainWindow::recent_files() const {
  return QSettings().value(kRecentKey).toStringList();
}

void MainWindow::add_recent(const QString& path) {
  QStringList files = recent_files();
  files.removeAll(path);
  files.prepend(path);
  while (files.size() > kMaxRecent) files.removeLast();
  QSettings().setValue(kRecentKey, files);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const QStringList files = recent_files();
  for (int i = 0; i < files.size(); ++i) {
    const QString path = files[i];
    QAction* a =
        recent_menu_->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(QFileInfo(path).fileName()),
                                this, [this, path] { open_path(path); });
    a->setStatusTip(path);
  }
  recent_menu_->setEnabled(!files.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!maybe_save()) {
    event->ignore();
    return;
  }
  QSettings settings;
  settings.setValue(kGeometryKey, saveGeometry());
  settings.setValue(kStateKey, saveState());
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() && event->mimeData()->urls().size() == 1 &&
      event->mimeData()->urls().first().isLocalFile())
    event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QString path = event->mimeData()->urls().first().toLocalFile();
  event->acceptProposedAction();
  open_path(path);
}

}  // namespace latentcast::ui
