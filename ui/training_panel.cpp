// The Training tab.
#include "ui/training_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTime>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>
#include <filesystem>

#include "estimator/estimate.h"
#include "ui/memory_planner.h"
#include "ui/project_session.h"
#include "ui/qcp.h"
#include "ui/training_controller.h"

namespace latentcast::ui {
namespace {

constexpr std::size_t kMaxPoints = 4000;
constexpr double kMiB = 1024.0 * 1024.0;
const char* const kCurveNames[] = {
    "step", "stage", "loss", "val_loss", "lr", "peak_allocated_bytes", "peak_reserved_bytes"};
const QString kSmoothingKey = QStringLiteral("training/smoothing");
const QString kLogScaleKey = QStringLiteral("training/log_scale");

QString bytes(double b) {
  return QString::fromStdString(estimator::format_bytes(static_cast<std::int64_t>(b)));
}

QString hms(double seconds) {
  return QTime(0, 0)
      .addSecs(static_cast<int>(std::max(0.0, seconds) + 0.5))
      .toString(QStringLiteral("hh:mm:ss"));
}

QCustomPlot* make_plot(const QString& name, const QString& y_label) {
  auto* plot = new QCustomPlot;
  plot->setObjectName(name);
  plot->setMinimumHeight(150);
  plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot->xAxis->setLabel(QObject::tr("step"));
  plot->yAxis->setLabel(y_label);
  plot->legend->setVisible(true);
  plot->legend->setFont(QFont(plot->font().family(), 8));
  plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  return plot;
}

QCPGraph* add_graph(QCustomPlot* plot, const QString& name, const QColor& color, int width = 1) {
  QCPGraph* g = plot->addGraph();
  g->setName(name);
  g->setPen(QPen(color, width));
  return g;
}

double value_of(const RunRecord& run, const std::string& metric) {
  for (const auto& [k, v] : run.metrics)
    if (k == metric) return v;
  return std::nan("");
}

}  // namespace

void TrainingPanel::Curves::clear() {
  *this = {};
}

void TrainingPanel::Curves::add(double x, const engine::Progress& p) {
  step.push_back(x);
  stage.push_back(p.stage == "vae" ? 0 : 1);
  loss.push_back(p.loss);
  val_loss.push_back(p.val_loss >= 0 ? p.val_loss : std::nan(""));
  lr.push_back(p.lr);
  allocated.push_back(double(p.peak_allocated_bytes));
  reserved.push_back(double(p.peak_reserved_bytes));
  if (step.size() > kMaxPoints) thin();
}

void TrainingPanel::Curves::thin() {
  for (auto* v : {&step, &stage, &loss, &val_loss, &lr, &allocated, &reserved}) {
    std::vector<double> kept;
    kept.reserve(v->size() / 2 + 1);
    for (std::size_t i = 0; i < v->size(); i += 2) kept.push_back((*v)[i]);
    if (v->size() % 2 == 0) kept.push_back(v->back());  // the latest point stays
    *v = std::move(kept);
  }
}

TrainingPanel::TrainingPanel(ProjectSession* session, MemoryPlanner* planner, QWidget* parent)
    : QWidget(parent),
      session_(session),
      planner_(planner),
      controller_(new TrainingController(this)),
      replot_timer_(new QTimer(this)) {
  build();
  fill_from_config();
  refill_runs();
  update_buttons();

  replot_timer_->setInterval(100);  // charts redraw at most ten times a second
  connect(replot_timer_, &QTimer::timeout, this, [this] {
    if (needs_replot_) replot();
  });
  replot_timer_->start();

  connect(controller_, &TrainingController::progress, this, &TrainingPanel::on_progress);
  connect(controller_, &TrainingController::finished, this, &TrainingPanel::on_finished);
  connect(controller_, &TrainingController::message, this, &TrainingPanel::append_log);
  connect(controller_, &TrainingController::stage_changed, this, [this](const QString& stage) {
    if (stage == QLatin1String("vae")) append_log(tr("stage 1: training the VAE"));
    if (stage == QLatin1String("diffusion")) append_log(tr("stage 2: training the denoiser"));
  });
  connect(controller_, &TrainingController::paused_changed, this, [this](bool paused) {
    append_log(paused ? tr("paused") : tr("resumed"));
    update_buttons();
  });
  connect(session_, &ProjectSession::project_replaced, this, [this] {
    fill_from_config();
    refill_runs();
  });
  connect(session_, &ProjectSession::config_changed, this, &TrainingPanel::fill_from_config);
  connect(session_, &ProjectSession::runs_changed, this, &TrainingPanel::refill_runs);
}

TrainingPanel::~TrainingPanel() = default;

void TrainingPanel::build() {
  auto* outer = new QVBoxLayout(this);

  auto* settings = new QGroupBox(tr("Training"));
  auto* form = new QHBoxLayout(settings);
  auto* left = new QFormLayout;
  auto* right = new QFormLayout;
  device_ = new QComboBox;
  device_->setObjectName(QStringLiteral("deviceCombo"));
  device_->addItem(tr("auto"), QStringLiteral("auto"));
  device_->addItem(tr("CPU"), QStringLiteral("cpu"));
  device_->addItem(tr("CUDA"), QStringLiteral("cuda"));
  if (!planner_->devices().cuda_available) {
    device_->setItemData(2, QString::fromStdString(planner_->devices().reason), Qt::ToolTipRole);
    device_->setItemData(2, false, Qt::UserRole - 1);  // disabled: no usable GPU
  }
  vae_steps_ = new QSpinBox;
  vae_steps_->setObjectName(QStringLiteral("vaeStepsSpin"));
  vae_steps_->setRange(0, 10000000);
  steps_ = new QSpinBox;
  steps_->setObjectName(QStringLiteral("stepsSpin"));
  steps_->setRange(0, 100000000);
  steps_->setToolTip(tr("Denoiser steps (0: train for training.epochs)"));
  lr_ = new QDoubleSpinBox;
  lr_->setObjectName(QStringLiteral("lrSpin"));
  lr_->setDecimals(6);
  lr_->setRange(1e-6, 1.0);
  lr_->setSingleStep(1e-4);
  validate_every_ = new QSpinBox;
  validate_every_->setObjectName(QStringLiteral("validateEverySpin"));
  validate_every_->setRange(1, 100000000);
  seed_ = new QSpinBox;
  seed_->setObjectName(QStringLiteral("seedSpin"));
  seed_->setRange(0, std::numeric_limits<int>::max());
  left->addRow(tr("De&vice:"), device_);
  left->addRow(tr("VAE steps (stage 1):"), vae_steps_);
  left->addRow(tr("Denoiser &steps (stage 2):"), steps_);
  right->addRow(tr("Learning &rate:"), lr_);
  right->addRow(tr("Validate every:"), validate_every_);
  right->addRow(tr("S&eed:"), seed_);
  form->addLayout(left);
  form->addLayout(right);
  auto* buttons = new QVBoxLayout;
  start_ = new QPushButton(tr("S&tart"));
  start_->setObjectName(QStringLiteral("startButton"));
  start_->setShortcut(QKeySequence(Qt::Key_F5));
  start_->setToolTip(tr("Start a new run (F5)"));
  pause_ = new QPushButton(tr("&Pause"));
  pause_->setObjectName(QStringLiteral("pauseButton"));
  pause_->setCheckable(true);
  stop_ = new QPushButton(tr("St&op"));
  stop_->setObjectName(QStringLiteral("stopButton"));
  stop_->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_F5));
  stop_->setToolTip(tr("Save a checkpoint and stop (Shift+F5)"));
  resume_ = new QPushButton(tr("&Resume from checkpoint..."));
  resume_->setObjectName(QStringLiteral("resumeButton"));
  resume_->setToolTip(tr("Continue the selected run from its last checkpoint"));
  buttons->addWidget(start_);
  buttons->addWidget(pause_);
  buttons->addWidget(stop_);
  buttons->addWidget(resume_);
  form->addLayout(buttons);
  outer->addWidget(settings);

  progress_ = new QProgressBar;
  progress_->setObjectName(QStringLiteral("trainingProgress"));
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_text_ = new QLabel(tr("Not running"));
  progress_text_->setObjectName(QStringLiteral("progressText"));
  outer->addWidget(progress_);
  outer->addWidget(progress_text_);

  auto* split = new QSplitter(Qt::Vertical);
  auto* charts = new QWidget;
  auto* chart_layout = new QVBoxLayout(charts);
  chart_layout->setContentsMargins(0, 0, 0, 0);
  auto* chart_options = new QHBoxLayout;
  log_scale_ = new QCheckBox(tr("&Log scale"));
  log_scale_->setObjectName(QStringLiteral("logScaleCheck"));
  smoothing_ = new QDoubleSpinBox;
  smoothing_->setObjectName(QStringLiteral("smoothingSpin"));
  smoothing_->setRange(0, 0.99);
  smoothing_->setSingleStep(0.05);
  QSettings prefs;
  smoothing_->setValue(prefs.value(kSmoothingKey, 0.9).toDouble());
  log_scale_->setChecked(prefs.value(kLogScaleKey, true).toBool());
  chart_options->addWidget(log_scale_);
  chart_options->addWidget(new QLabel(tr("Smoothing:")));
  chart_options->addWidget(smoothing_);
  chart_options->addStretch();
  chart_layout->addLayout(chart_options);
  loss_plot_ = make_plot(QStringLiteral("lossPlot"), tr("loss"));
  add_graph(loss_plot_, tr("VAE loss (stage 1)"), QColor(150, 150, 150));
  add_graph(loss_plot_, tr("training loss"), QColor(31, 119, 180, 90));
  add_graph(loss_plot_, tr("training loss (smoothed)"), QColor(31, 119, 180), 2);
  QCPGraph* val = add_graph(loss_plot_, tr("validation loss"), QColor(214, 39, 40), 2);
  val->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  lr_plot_ = make_plot(QStringLiteral("lrPlot"), tr("learning rate"));
  add_graph(lr_plot_, tr("learning rate"), QColor(44, 160, 44));
  memory_plot_ = make_plot(QStringLiteral("memoryPlot"), tr("MiB"));
  add_graph(memory_plot_, tr("peak allocated"), QColor(31, 119, 180), 2);
  add_graph(memory_plot_, tr("peak reserved"), QColor(255, 127, 14), 2);
  QCPGraph* estimate = add_graph(memory_plot_, tr("estimate"), QColor(120, 120, 120), 2);
  estimate->setPen(QPen(QColor(120, 120, 120), 2, Qt::DashLine));
  auto* chart_tabs = new QTabWidget;
  chart_tabs->setObjectName(QStringLiteral("chartTabs"));
  chart_tabs->addTab(loss_plot_, tr("Loss"));
  chart_tabs->addTab(memory_plot_, tr("Memory"));
  chart_tabs->addTab(lr_plot_, tr("Learning rate"));
  chart_layout->addWidget(chart_tabs, 1);
  split->addWidget(charts);

  auto* bottom = new QSplitter(Qt::Horizontal);
  log_ = new QPlainTextEdit;
  log_->setObjectName(QStringLiteral("trainingLog"));
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);
  runs_ = new QTableWidget(0, 6);
  runs_->setObjectName(QStringLiteral("runsTable"));
  runs_->setHorizontalHeaderLabels(
      {tr("Run"), tr("Status"), tr("Device"), tr("Steps"), tr("Best val. loss"), tr("Peak")});
  runs_->horizontalHeader()->setStretchLastSection(true);
  runs_->setSelectionBehavior(QAbstractItemView::SelectRows);
  runs_->setSelectionMode(QAbstractItemView::SingleSelection);
  runs_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  runs_->verticalHeader()->setVisible(false);
  auto* summary_box = new QWidget;
  auto* summary_layout = new QVBoxLayout(summary_box);
  summary_layout->setContentsMargins(0, 0, 0, 0);
  summary_ = new QLabel;
  summary_->setObjectName(QStringLiteral("summaryLabel"));
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_layout->addWidget(summary_);
  summary_layout->addWidget(new QLabel(tr("<b>Run history</b> (select a run to see its curves)")));
  summary_layout->addWidget(runs_, 1);
  bottom->addWidget(log_);
  bottom->addWidget(summary_box);
  split->addWidget(bottom);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  outer->addWidget(split, 1);

  connect(start_, &QPushButton::clicked, this, [this] { start(); });
  connect(pause_, &QPushButton::toggled, this, [this](bool on) { controller_->set_paused(on); });
  connect(stop_, &QPushButton::clicked, this, [this] {
    append_log(tr("stopping: the run saves a checkpoint after this step"));
    controller_->stop();
    stop_->setEnabled(false);
  });
  connect(resume_, &QPushButton::clicked, this, &TrainingPanel::resume_selected);
  connect(log_scale_, &QCheckBox::toggled, this, [this](bool on) {
    QSettings().setValue(kLogScaleKey, on);
    needs_replot_ = true;
  });
  connect(smoothing_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double v) {
    QSettings().setValue(kSmoothingKey, v);
    needs_replot_ = true;
  });
  connect(runs_, &QTableWidget::itemSelectionChanged, this, [this] {
    if (controller_->running() || updating_) return;
    const auto rows = runs_->selectionModel()->selectedRows();
    if (!rows.isEmpty()) show_run(rows.first().row());
  });
  const auto on_spin = [this](QSpinBox* box, std::function<void(ProjectConfig&, int)> set) {
    connect(box, qOverload<int>(&QSpinBox::valueChanged), this,
            [this, set](int v) { apply([&](ProjectConfig& c) { set(c, v); }); });
  };
  on_spin(vae_steps_, [](ProjectConfig& c, int v) { c.training.vae_steps = v; });
  on_spin(steps_, [](ProjectConfig& c, int v) { c.training.steps = v; });
  on_spin(validate_every_, [](ProjectConfig& c, int v) { c.training.validate_every = v; });
  on_spin(seed_, [](ProjectConfig& c, int v) { c.training.seed = std::uint64_t(v); });
  connect(lr_, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          [this](double v) { apply([v](ProjectConfig& c) { c.training.learning_rate = v; }); });
}

void TrainingPanel::apply(const std::function<void(ProjectConfig&)>& edit) {
  if (updating_) return;
  const QString message = session_->change(edit);
  if (!message.isEmpty()) {
    Q_EMIT error(message);
    fill_from_config();
  }
}

void TrainingPanel::fill_from_config() {
  const bool was = updating_;
  updating_ = true;
  const TrainingConfig& t = session_->config().training;
  vae_steps_->setValue(t.vae_steps);
  steps_->setValue(t.steps);
  lr_->setValue(t.learning_rate);
  validate_every_->setValue(t.validate_every);
  seed_->setValue(
      int(std::min<std::uint64_t>(t.seed, std::uint64_t(std::numeric_limits<int>::max()))));
  updating_ = was;
}

void TrainingPanel::update_buttons() {
  const bool running = controller_->running();
  start_->setEnabled(!running);
  resume_->setEnabled(!running);
  pause_->setEnabled(running);
  stop_->setEnabled(running);
  pause_->setText(controller_->paused() ? tr("&Resume") : tr("&Pause"));
  {
    const QSignalBlocker block(pause_);
    pause_->setChecked(controller_->paused());
  }
  for (QWidget* w :
       std::initializer_list<QWidget*>{device_, vae_steps_, steps_, lr_, validate_every_, seed_})
    w->setEnabled(!running);
}

bool TrainingPanel::start(const QString& resume_from) {
  if (controller_->running()) return false;
  engine::TrainRequest request;
  request.config = session_->config();
  request.device = device_->currentData().toString().toStdString();
  request.resume_from = resume_from.toStdString();
  request.simulate_oom_at_step = simulated_oom_step_;
  run_dir_ = session_->new_run_dir();
  request.run_dir = run_dir_.toStdString();

  // The estimate of what this run will hold, drawn on the memory chart.
  const estimator::Estimate& e = planner_->estimate();
  const bool cuda_run =
      request.device == "cuda" || (request.device == "auto" && planner_->devices().cuda_available);
  estimate_bytes_ =
      planner_->error().isEmpty() ? double(cuda_run ? e.reserved_bytes : e.allocated_bytes) : 0.0;
  curves_.clear();
  vae_steps_total_ = resume_from.isEmpty() ? session_->config().training.vae_steps : 0;
  summary_->clear();
  progress_->setRange(0, 0);  // busy until the first step reports
  progress_text_->setText(tr("Preparing the data and the model..."));
  append_log(resume_from.isEmpty() ? tr("new run in %1").arg(run_dir_)
                                   : tr("resuming from %1 into %2").arg(resume_from, run_dir_));
  show_curves(curves_, estimate_bytes_);
  if (!controller_->start(request)) return false;
  {
    const QSignalBlocker block(runs_);
    runs_->clearSelection();
  }
  update_buttons();
  Q_EMIT status(tr("Training started"));
  return true;
}

void TrainingPanel::resume_selected() {
  const auto rows = runs_->selectionModel()->selectedRows();
  QString checkpoint;
  if (!rows.isEmpty()) {
    const RunRecord& run = session_->config().runs[std::size_t(rows.first().row())];
    for (const std::string& path : {run.checkpoint_last, run.checkpoint_best})
      if (!path.empty() && std::filesystem::exists(path)) {
        checkpoint = QString::fromStdString(path);
        break;
      }
  }
  if (checkpoint.isEmpty())
    checkpoint = QFileDialog::getOpenFileName(this, tr("Resume from checkpoint"), QString(),
                                              tr("Checkpoints (*.pt);;All files (*)"));
  if (!checkpoint.isEmpty()) start(checkpoint);
}

void TrainingPanel::on_progress(const engine::Progress& p) {
  const bool vae = p.stage == "vae";
  const double x = double(vae ? p.step : vae_steps_total_ + p.step);
  curves_.add(x, p);
  progress_->setRange(0, int(std::min<std::int64_t>(p.total_steps, 1 << 30)));
  progress_->setValue(int(std::min<std::int64_t>(p.step, 1 << 30)));
  QString text = vae ? tr("Stage 1 (VAE): step %1 of %2").arg(p.step).arg(p.total_steps)
                     : tr("Stage 2 (denoiser): step %1 of %2 · epoch %3")
                           .arg(p.step)
                           .arg(p.total_steps)
                           .arg(p.epoch);
  text += tr(" · loss %1").arg(p.loss, 0, 'g', 4);
  if (p.val_loss >= 0) text += tr(" · val %1").arg(p.val_loss, 0, 'g', 4);
  text +=
      tr(" · %1 windows/s · ETA %2").arg(p.samples_per_second, 0, 'f', 1).arg(hms(p.eta_seconds));
  if (controller_->paused()) text += tr(" · paused");
  progress_text_->setText(text);
  needs_replot_ = true;
}

void TrainingPanel::show_curves(const Curves& c, double estimate_bytes) {
  curves_ = c;
  estimate_bytes_ = estimate_bytes;
  needs_replot_ = true;
  replot();
}

void TrainingPanel::replot() {
  needs_replot_ = false;
  const Curves& c = curves_;
  QVector<double> vx, vy, tx, ty, sx, sy, valx, valy, lrx, lry, mx, ma, mr;
  const double alpha = smoothing_->value();
  double smooth = std::nan("");
  for (std::size_t i = 0; i < c.step.size(); ++i) {
    const double x = c.step[i];
    if (c.stage[i] == 0) {
      vx << x;
      vy << c.loss[i];
    } else {
      tx << x;
      ty << c.loss[i];
      smooth = std::isnan(smooth) ? c.loss[i] : alpha * smooth + (1 - alpha) * c.loss[i];
      sx << x;
      sy << smooth;
      if (!std::isnan(c.val_loss[i]) && (valy.isEmpty() || valy.back() != c.val_loss[i])) {
        valx << x;
        valy << c.val_loss[i];
      }
    }
    lrx << x;
    lry << c.lr[i];
    mx << x;
    ma << c.allocated[i] / kMiB;
    mr << c.reserved[i] / kMiB;
  }
  loss_plot_->graph(0)->setData(vx, vy, true);
  loss_plot_->graph(1)->setData(tx, ty, true);
  loss_plot_->graph(2)->setData(sx, sy, true);
  loss_plot_->graph(3)->setData(valx, valy, true);
  lr_plot_->graph(0)->setData(lrx, lry, true);
  memory_plot_->graph(0)->setData(mx, ma, true);
  memory_plot_->graph(1)->setData(mx, mr, true);
  QVector<double> ex, ey;
  if (estimate_bytes_ > 0) {
    ex << (mx.isEmpty() ? 0.0 : mx.front()) << (mx.isEmpty() ? 1.0 : mx.back());
    ey << estimate_bytes_ / kMiB << estimate_bytes_ / kMiB;
  }
  memory_plot_->graph(2)->setData(ex, ey, true);

  const bool log = log_scale_->isChecked();
  loss_plot_->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (log)
    loss_plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  else
    loss_plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  for (QCustomPlot* plot : {loss_plot_, lr_plot_, memory_plot_}) {
    plot->rescaleAxes(true);
    if (plot == memory_plot_) plot->yAxis->setRangeLower(0);
    plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

void TrainingPanel::append_log(const QString& line) {
  log_->appendPlainText(QTime::currentTime().toString(QStringLiteral("hh:mm:ss ")) + line);
}

RunRecord TrainingPanel::with_curves(RunRecord run) const {
  const std::vector<double>* series[] = {&curves_.step,     &curves_.stage, &curves_.loss,
                                         &curves_.val_loss, &curves_.lr,    &curves_.allocated,
                                         &curves_.reserved};
  run.curves.clear();
  if (!curves_.step.empty())
    for (std::size_t i = 0; i < std::size(kCurveNames); ++i)
      run.curves.emplace_back(kCurveNames[i], *series[i]);
  if (estimate_bytes_ > 0) run.metrics.emplace_back("estimated_peak_bytes", estimate_bytes_);
  return run;
}

void TrainingPanel::on_finished(const TrainingOutcome& outcome) {
  needs_replot_ = true;
  replot();
  progress_->setRange(0, std::max(1, progress_->maximum()));
  const RunRecord run = with_curves(outcome.run);
  session_->add_run(run);
  const double peak = double(std::max(run.peak_reserved_bytes, run.peak_allocated_bytes));
  QString summary;
  if (outcome.failed) {
    summary = tr("<b>%1</b> after %2 denoiser steps: %3")
                  .arg(outcome.kind == engine::ErrorKind::OutOfMemory ? tr("Out of memory")
                                                                      : tr("Failed"))
                  .arg(run.steps)
                  .arg(outcome.error.toHtmlEscaped());
    append_log(tr("error: %1").arg(outcome.error));
  } else {
    summary =
        tr("<b>%1</b>: %2 denoiser steps").arg(QString::fromStdString(run.status)).arg(run.steps);
    if (outcome.best_val_loss >= 0)
      summary += tr(" · best validation loss %1").arg(outcome.best_val_loss, 0, 'g', 5);
  }
  if (peak > 0)
    summary += tr(" · measured peak %1 (estimate %2)").arg(bytes(peak), bytes(estimate_bytes_));
  if (!run.checkpoint_last.empty())
    summary += tr("<br>Last checkpoint: %1")
                   .arg(QString::fromStdString(run.checkpoint_last).toHtmlEscaped());
  else
    summary += tr("<br>No checkpoint was written (stopped before the denoiser's first epoch)");
  summary_->setText(summary);
  progress_text_->setText(tr("Not running"));
  update_buttons();
  {
    const QSignalBlocker block(runs_);
    runs_->selectRow(runs_->rowCount() - 1);
  }
  Q_EMIT status(outcome.failed ? tr("Training stopped: %1").arg(outcome.error)
                               : tr("Training %1").arg(QString::fromStdString(run.status)));
  if (outcome.failed && outcome.kind == engine::ErrorKind::OutOfMemory)
    show_oom_dialog(outcome);
  else if (outcome.failed)
    Q_EMIT error(tr("Training failed: %1").arg(outcome.error));
  Q_EMIT run_finished();
}

void TrainingPanel::show_oom_dialog(const TrainingOutcome& outcome) {
  const estimator::Estimate& e = planner_->estimate();
  const std::int64_t measured =
      std::max(outcome.last.peak_reserved_bytes, outcome.last.peak_allocated_bytes);
  // The capacity to plan for: the device's (or the preset's); where it is unknown (a CPU run), the
  // peak that was reached, which is what evidently fit.
  std::int64_t capacity = planner_->device().capacity_bytes;
  if (capacity <= 0) capacity = measured > 0 ? measured : e.total_bytes * 3 / 4;
  const estimator::Recommendation r = planner_->recommend(capacity);

  auto* dialog = new QDialog(this);
  dialog->setObjectName(QStringLiteral("oomDialog"));
  dialog->setWindowTitle(tr("Out of memory"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  auto* layout = new QVBoxLayout(dialog);
  QString text = tr("<p><b>The run ran out of memory</b> at denoiser step %1 and stopped; the last "
                    "checkpoint is kept.</p><p>%2</p>")
                     .arg(outcome.last.stage == "diffusion" ? outcome.last.step + 1 : 0)
                     .arg(outcome.error.toHtmlEscaped());
  text += tr("<p>Estimate for these settings: <b>%1</b>; measured peak before the failure: "
             "<b>%2</b>; planning for %3.</p>")
              .arg(bytes(double(e.total_bytes)), bytes(double(measured)), bytes(double(capacity)));
  std::vector<std::string> fix;
  if (!r.changes.empty()) {
    text += tr("<p>Changes that fit, cheapest first:</p><ul>");
    for (const auto& c : r.changes)
      text += QStringLiteral("<li>%1 = %2 (%3)</li>")
                  .arg(QString::fromStdString(c.key), QString::fromStdString(c.value),
                       bytes(double(c.total_bytes)));
    text += QStringLiteral("</ul>");
    fix.push_back(r.changes.front().key + "=" + r.changes.front().value);
  } else if (r.max_batch_size > 0) {
    fix.push_back("memory.batch_size=" + std::to_string(r.max_batch_size));
    text += tr("<p>A batch size of %1 fits.</p>").arg(r.max_batch_size);
  } else {
    text += tr("<p>No single change fits; try a smaller model or image size.</p>");
  }
  auto* label = new QLabel(text);
  label->setObjectName(QStringLiteral("oomText"));
  label->setWordWrap(true);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(label);
  auto* box = new QDialogButtonBox(QDialogButtonBox::Close);
  if (!fix.empty()) {
    QPushButton* apply_button = box->addButton(
        tr("Apply %1").arg(QString::fromStdString(fix.front())), QDialogButtonBox::AcceptRole);
    apply_button->setObjectName(QStringLiteral("applyFixButton"));
    connect(apply_button, &QPushButton::clicked, dialog, [this, dialog, fix] {
      const QString message = session_->apply_settings(fix);
      if (!message.isEmpty())
        Q_EMIT error(message);
      else
        Q_EMIT status(tr("Applied %1").arg(QString::fromStdString(fix.front())));
      dialog->accept();
    });
  }
  connect(box, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
  layout->addWidget(box);
  dialog->open();
}

void TrainingPanel::refill_runs() {
  const bool was = updating_;
  updating_ = true;
  const auto& runs = session_->config().runs;
  runs_->setRowCount(int(runs.size()));
  for (int i = 0; i < int(runs.size()); ++i) {
    const RunRecord& r = runs[std::size_t(i)];
    const double best = value_of(r, "best_val_loss");
    const QStringList cells = {
        QString::fromStdString(r.id),
        QString::fromStdString(r.status),
        QString::fromStdString(r.device),
        QString::number(r.steps),
        std::isnan(best) ? QStringLiteral("-") : QString::number(best, 'g', 5),
        r.peak_reserved_bytes > 0 ? bytes(double(r.peak_reserved_bytes)) : QStringLiteral("-")};
    for (int c = 0; c < cells.size(); ++c) runs_->setItem(i, c, new QTableWidgetItem(cells[c]));
  }
  runs_->resizeColumnsToContents();
  updating_ = was;
}

void TrainingPanel::show_run(int index) {
  const auto& runs = session_->config().runs;
  if (index < 0 || index >= int(runs.size())) return;
  const RunRecord& run = runs[std::size_t(index)];
  Curves c;
  std::vector<double>* series[] = {&c.step, &c.stage,     &c.loss,    &c.val_loss,
                                   &c.lr,   &c.allocated, &c.reserved};
  for (const auto& [name, values] : run.curves)
    for (std::size_t i = 0; i < std::size(kCurveNames); ++i)
      if (name == kCurveNames[i]) *series[i] = values;
  const std::size_t n = c.step.size();
  for (auto* s : series)
    if (s->size() != n) s->assign(n, std::nan(""));  // a curve the record lacks
  const double estimate = value_of(run, "estimated_peak_bytes");
  show_curves(c, std::isnan(estimate) ? 0.0 : estimate);
  summary_->setText(tr("<b>%1</b>: %2, %3 denoiser steps on %4")
                        .arg(QString::fromStdString(run.id), QString::fromStdString(run.status))
                        .arg(run.steps)
                        .arg(QString::fromStdString(run.device)));
}

}  // namespace latentcast::ui
