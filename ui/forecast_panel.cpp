// The Forecast tab.
#include "ui/forecast_panel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>
#include <filesystem>
#include <memory>

#include "app/project/forecast_csv.h"
#include "model/data/split.h"
#include "ui/engine_job.h"
#include "ui/project_session.h"
#include "ui/qcp.h"

namespace latentcast::ui {
namespace {

QCPGraph* line(QCustomPlot* plot, const QString& name, const QPen& pen) {
  QCPGraph* g = plot->addGraph();
  g->setName(name);
  g->setPen(pen);
  return g;
}

QString score(double v) {
  return v < 0 ? QStringLiteral("-") : QString::number(v, 'g', 4);
}

}  // namespace

ForecastPanel::ForecastPanel(ProjectSession* session, QWidget* parent)
    : QWidget(parent), session_(session) {
  auto* outer = new QVBoxLayout(this);
  auto* settings = new QGroupBox(tr("Forecast"));
  auto* row = new QHBoxLayout(settings);
  auto* form = new QFormLayout;
  checkpoint_label_ = new QLabel;
  checkpoint_label_->setObjectName(QStringLiteral("checkpointLabel"));
  checkpoint_label_->setWordWrap(true);
  form->addRow(tr("Checkpoint:"), checkpoint_label_);
  at_end_ = new QRadioButton(tr("After the end of the data"));
  at_end_->setObjectName(QStringLiteral("originEnd"));
  at_end_->setChecked(true);
  at_row_ = new QRadioButton(tr("At test row (or click the chart):"));
  at_row_->setObjectName(QStringLiteral("originRow"));
  origin_ = new QSpinBox;
  origin_->setObjectName(QStringLiteral("originSpin"));
  auto* origin_row = new QHBoxLayout;
  origin_row->addWidget(at_end_);
  origin_row->addWidget(at_row_);
  origin_row->addWidget(origin_);
  form->addRow(tr("Window:"), origin_row);
  row->addLayout(form, 1);
  auto* form2 = new QFormLayout;
  samples_ = new QSpinBox;
  samples_->setObjectName(QStringLiteral("samplesSpin"));
  samples_->setRange(1, 10000);
  seed_ = new QSpinBox;
  seed_->setObjectName(QStringLiteral("forecastSeedSpin"));
  seed_->setRange(1, std::numeric_limits<int>::max());
  column_ = new QComboBox;
  column_->setObjectName(QStringLiteral("forecastColumn"));
  max_windows_ = new QSpinBox;
  max_windows_->setObjectName(QStringLiteral("maxWindowsSpin"));
  max_windows_->setRange(0, 1000000);
  max_windows_->setValue(50);
  max_windows_->setSpecialValueText(tr("all"));
  max_windows_->setToolTip(tr("Test windows scored (evenly spaced); 0: all"));
  form2->addRow(tr("&Samples (K):"), samples_);
  form2->addRow(tr("Seed:"), seed_);
  form2->addRow(tr("&Column shown:"), column_);
  form2->addRow(tr("Windows scored:"), max_windows_);
  row->addLayout(form2);
  auto* buttons = new QVBoxLayout;
  forecast_button_ = new QPushButton(tr("&Forecast"));
  forecast_button_->setObjectName(QStringLiteral("forecastButton"));
  forecast_button_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  evaluate_button_ = new QPushButton(tr("Score on the &test split"));
  evaluate_button_->setObjectName(QStringLiteral("evaluateButton"));
  export_csv_button_ = new QPushButton(tr("Export &CSV..."));
  export_csv_button_->setObjectName(QStringLiteral("exportCsvButton"));
  export_chart_button_ = new QPushButton(tr("Export c&hart..."));
  export_chart_button_->setObjectName(QStringLiteral("exportChartButton"));
  for (QPushButton* b :
       {forecast_button_, evaluate_button_, export_csv_button_, export_chart_button_})
    buttons->addWidget(b);
  row->addLayout(buttons);
  outer->addWidget(settings);

  auto* split = new QSplitter(Qt::Vertical);
  plot_ = new QCustomPlot;
  plot_->setObjectName(QStringLiteral("fanChart"));
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->legend->setVisible(true);
  plot_->legend->setFont(QFont(font().family(), 8));
  plot_->xAxis->setLabel(tr("row"));
  split->addWidget(plot_);
  metrics_ = new QTableWidget(0, 6);
  metrics_->setObjectName(QStringLiteral("metricsTable"));
  metrics_->setHorizontalHeaderLabels(
      {tr("Model"), tr("MSE"), tr("MAE"), tr("CRPS"), tr("50 % coverage"), tr("90 % coverage")});
  metrics_->horizontalHeader()->setStretchLastSection(true);
  metrics_->verticalHeader()->setVisible(false);
  metrics_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  split->addWidget(metrics_);
  split->setStretchFactor(0, 3);
  outer->addWidget(split, 1);

  connect(forecast_button_, &QPushButton::clicked, this, [this] { run_forecast(); });
  connect(evaluate_button_, &QPushButton::clicked, this, [this] { run_evaluation(); });
  connect(export_csv_button_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export forecast"), QStringLiteral("forecast.csv"), tr("CSV files (*.csv)"));
    if (!path.isEmpty() && export_csv(path)) Q_EMIT status(tr("Wrote %1").arg(path));
  });
  connect(export_chart_button_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export chart"), QStringLiteral("forecast.png"), tr("PNG (*.png);;PDF (*.pdf)"));
    if (!path.isEmpty() && export_chart(path)) Q_EMIT status(tr("Wrote %1").arg(path));
  });
  connect(column_, qOverload<int>(&QComboBox::currentIndexChanged), this, &ForecastPanel::redraw);
  // K and the seed are the project's forecasting settings.
  connect(samples_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int k) {
    const QString message = session_->change([k](ProjectConfig& c) { c.forecasting.samples = k; });
    if (!message.isEmpty()) Q_EMIT error(message);
  });
  connect(seed_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int seed) {
    const QString message =
        session_->change([seed](ProjectConfig& c) { c.forecasting.seed = std::uint64_t(seed); });
    if (!message.isEmpty()) Q_EMIT error(message);
  });
  connect(origin_, qOverload<int>(&QSpinBox::valueChanged), this,
          [this] { at_row_->setChecked(true); });
  // A click inside the test split picks the window that starts there.
  connect(plot_, &QCustomPlot::mouseRelease, this, [this](QMouseEvent* event) {
    if (!at_row_->isEnabled()) return;
    const double x = plot_->xAxis->pixelToCoord(event->pos().x());
    if (x >= origin_->minimum() && x <= origin_->maximum()) set_origin(std::int64_t(x + 0.5));
  });
  // The checkpoint is looked up on disk only when the runs change, not on every settings edit.
  connect(session_, &ProjectSession::project_replaced, this, [this] {
    refresh_checkpoint();
    refresh_sources();
  });
  connect(session_, &ProjectSession::runs_changed, this, &ForecastPanel::refresh_checkpoint);
  connect(session_, &ProjectSession::config_changed, this, &ForecastPanel::refresh_sources);
  refresh_checkpoint();
  refresh_sources();
}

ForecastPanel::~ForecastPanel() {
  if (job_) job_->wait();
}

void ForecastPanel::refresh_checkpoint() {
  checkpoint_.clear();
  const auto& runs = session_->config().runs;
  for (auto it = runs.rbegin(); it != runs.rend() && checkpoint_.isEmpty(); ++it)
    for (const std::string& path : {it->checkpoint_best, it->checkpoint_last})
      if (!path.empty() && std::filesystem::exists(path)) {
        checkpoint_ = QString::fromStdString(path);
        break;
      }
  checkpoint_label_->setText(checkpoint_.isEmpty() ? tr("none yet: train a model first")
                                                   : checkpoint_);
  update_buttons();
}

void ForecastPanel::refresh_sources() {
  const ProjectConfig& c = session_->config();
  {
    const QSignalBlocker block_samples(samples_), block_seed(seed_);
    samples_->setValue(c.forecasting.samples);
    seed_->setValue(int(std::min<std::uint64_t>(c.forecasting.seed, std::uint64_t(INT32_MAX))));
  }
  // Test windows: origins from the start of the test forecasts to the last full window.
  const auto rows = session_->table().rows();
  bool have_test = false;
  try {
    const data::SplitRows s =
        data::compute_split(rows, c.dataset.split, c.dataset.lookback, c.dataset.horizon);
    const std::int64_t first = s.test.begin + c.dataset.lookback;
    const std::int64_t last = s.test.end - c.dataset.horizon;
    have_test = last >= first;
    if (have_test) {
      const QSignalBlocker block(origin_);
      origin_->setRange(int(first), int(last));
    }
  } catch (const std::exception&) {
    have_test = false;
  }
  at_row_->setEnabled(have_test);
  origin_->setEnabled(have_test);
  if (!have_test) at_end_->setChecked(true);
  const QString shown = column_->currentText();
  {
    const QSignalBlocker block(column_);
    column_->clear();
    for (const auto& name :
         c.dataset.target_columns.empty() ? c.dataset.columns : c.dataset.target_columns)
      column_->addItem(QString::fromStdString(name));
    if (column_->count() == 0)
      for (const auto& name : session_->table().numeric_names)
        column_->addItem(QString::fromStdString(name));
    column_->setCurrentIndex(std::max(0, column_->findText(shown)));
  }
  update_buttons();
}

void ForecastPanel::update_buttons() {
  const bool idle = job_ == nullptr;
  const bool can = idle && !checkpoint().isEmpty();
  forecast_button_->setEnabled(can);
  evaluate_button_->setEnabled(can);
  export_csv_button_->setEnabled(idle && !forecast_.rows.empty());
  export_chart_button_->setEnabled(!forecast_.rows.empty());
}

void ForecastPanel::set_origin(std::int64_t row) {
  if (row < 0) {
    at_end_->setChecked(true);
    return;
  }
  origin_->setValue(int(row));
  at_row_->setChecked(true);
}

std::int64_t ForecastPanel::origin() const {
  return at_row_->isChecked() ? std::int64_t(origin_->value()) : -1;
}

bool ForecastPanel::run_forecast() {
  const QString ckpt = checkpoint();
  if (job_ || ckpt.isEmpty()) return false;
  engine::ForecastRequest request;
  request.config = session_->config();
  request.checkpoint = ckpt.toStdString();
  request.samples = samples_->value();
  request.seed = std::uint64_t(seed_->value());
  request.origin = origin();
  auto result = std::make_shared<engine::Forecast>();
  Q_EMIT status(tr("Forecasting %1 samples...").arg(request.samples));
  job_ = start_job(
      this, [request, result] { *result = engine::forecast(request, {}); },
      [this, result](const JobError& failure) {
        job_ = nullptr;
        if (failure.failed) {
          Q_EMIT error(tr("Forecast failed: %1").arg(failure.message));
        } else {
          forecast_ = *result;
          redraw();
          Q_EMIT status(tr("Forecast of %1 steps ready").arg(forecast_.rows.size()));
          Q_EMIT forecast_ready();
        }
        update_buttons();
      });
  update_buttons();
  return true;
}

bool ForecastPanel::run_evaluation() {
  const QString ckpt = checkpoint();
  if (job_ || ckpt.isEmpty()) return false;
  engine::EvaluateRequest request;
  request.config = session_->config();
  request.checkpoint = ckpt.toStdString();
  request.samples = samples_->value();
  request.max_windows = max_windows_->value();
  auto result = std::make_shared<engine::Evaluation>();
  Q_EMIT status(tr("Scoring the test split..."));
  job_ = start_job(
      this, [request, result] { *result = engine::evaluate(request, {}); },
      [this, result](const JobError& failure) {
        job_ = nullptr;
        if (failure.failed) {
          Q_EMIT error(tr("Evaluation failed: %1").arg(failure.message));
        } else {
          metrics_->setRowCount(int(result->scores.size()));
          for (int i = 0; i < int(result->scores.size()); ++i) {
            const engine::Scores& s = result->scores[std::size_t(i)];
            const QStringList cells = {QString::fromStdString(s.model),
                                       score(s.mse),
                                       score(s.mae),
                                       score(s.crps),
                                       score(s.coverage50),
                                       score(s.coverage90)};
            for (int c = 0; c < cells.size(); ++c)
              metrics_->setItem(i, c, new QTableWidgetItem(cells[c]));
          }
          metrics_->resizeColumnsToContents();
          Q_EMIT status(tr("Scored %1 test windows with %2 samples each in %3 s")
                            .arg(result->windows)
                            .arg(result->samples)
                            .arg(result->seconds, 0, 'f', 1));
          Q_EMIT evaluation_ready();
        }
        update_buttons();
      });
  update_buttons();
  return true;
}

void ForecastPanel::redraw() {
  plot_->clearGraphs();
  const engine::Forecast& fc = forecast_;
  if (fc.rows.empty()) {
    plot_->replot();
    return;
  }
  const std::string name = column_->currentText().toStdString();
  std::size_t c = 0;
  for (std::size_t i = 0; i < fc.columns.size(); ++i)
    if (fc.columns[i] == name) c = i;
  const data::Table& table = session_->table();
  const int col = table.numeric_index(fc.columns[c]);
  const std::int64_t start = fc.rows.front();
  const std::int64_t L = session_->config().dataset.lookback;
  QVector<double> hx, hy;
  if (col >= 0)
    for (std::int64_t r = std::max<std::int64_t>(0, start - L); r < std::min(start, table.rows());
         ++r) {
      hx << double(r);
      hy << table.values[std::size_t(col)][std::size_t(r)];
    }
  QVector<double> x, q05, q25, med, q75, q95, act;
  for (std::size_t h = 0; h < fc.rows.size(); ++h) {
    x << double(fc.rows[h]);
    q05 << fc.q05[h][c];
    q25 << fc.q25[h][c];
    med << fc.median[h][c];
    q75 << fc.q75[h][c];
    q95 << fc.q95[h][c];
    if (!fc.actual.empty()) act << fc.actual[h][c];
  }
  const QColor blue(31, 119, 180);
  line(plot_, tr("history"), QPen(QColor(60, 60, 60), 1.5))->setData(hx, hy, true);
  QCPGraph* lo90 = line(plot_, QString(), Qt::NoPen);
  lo90->setData(x, q05, true);
  QCPGraph* hi90 = line(plot_, tr("90 % interval"), Qt::NoPen);
  hi90->setData(x, q95, true);
  hi90->setBrush(QColor(blue.red(), blue.green(), blue.blue(), 45));
  hi90->setChannelFillGraph(lo90);
  QCPGraph* lo50 = line(plot_, QString(), Qt::NoPen);
  lo50->setData(x, q25, true);
  QCPGraph* hi50 = line(plot_, tr("50 % interval"), Qt::NoPen);
  hi50->setData(x, q75, true);
  hi50->setBrush(QColor(blue.red(), blue.green(), blue.blue(), 90));
  hi50->setChannelFillGraph(lo50);
  line(plot_, tr("median"), QPen(blue, 2))->setData(x, med, true);
  if (!act.isEmpty())
    line(plot_, tr("actual"), QPen(QColor(214, 39, 40), 1.5, Qt::DashLine))->setData(x, act, true);
  for (QCPGraph* g : {lo90, lo50}) plot_->legend->removeItem(plot_->legend->itemWithPlottable(g));
  plot_->yAxis->setLabel(column_->currentText());
  plot_->rescaleAxes();
  plot_->replot();
}

bool ForecastPanel::export_csv(const QString& path) {
  if (forecast_.rows.empty()) return false;
  try {
    project::write_file_atomically(path.toStdString(), project::forecast_csv(forecast_));
  } catch (const std::exception& e) {
    Q_EMIT error(QString::fromStdString(e.what()));
    return false;
  }
  return true;
}

bool ForecastPanel::export_chart(const QString& path) {
  const bool ok = path.endsWith(QStringLiteral(".pdf"), Qt::CaseInsensitive)
                      ? plot_->savePdf(path, 1000, 600)
                      : plot_->savePng(path, 1000, 600);
  if (!ok) Q_EMIT error(tr("cannot write %1").arg(path));
  return ok;
}

}  // namespace latentcast::ui
