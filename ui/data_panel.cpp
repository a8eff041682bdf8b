// Data tab widgets and their link to the project session.
#include "ui/data_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "model/data/dataset.h"
#include "model/data/split.h"
#include "ui/project_session.h"
#include "ui/series_plot.h"

namespace latentcast::ui {
namespace {

QString qs(const std::string& s) {
  return QString::fromStdString(s);
}

QTableWidgetItem* check_item(bool checked) {
  auto* item = new QTableWidgetItem;
  item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled | Qt::ItemIsSelectable);
  item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
  return item;
}

}  // namespace

DataPanel::DataPanel(ProjectSession* session, QWidget* parent)
    : QWidget(parent),
      session_(session),
      summary_(new QLabel(this)),
      columns_(new QTableWidget(0, 4, this)),
      plot_(new SeriesPlot(this)),
      split_mode_(new QComboBox(this)),
      train_pct_(new QDoubleSpinBox(this)),
      val_pct_(new QDoubleSpinBox(this)),
      lookback_(new QSpinBox(this)),
      horizon_(new QSpinBox(this)),
      split_label_(new QLabel(this)) {
  summary_->setObjectName(QStringLiteral("dataSummary"));
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_->setWordWrap(true);

  columns_->setObjectName(QStringLiteral("columnsTable"));
  columns_->setHorizontalHeaderLabels({tr("Column"), tr("Missing"), tr("Target"), tr("Show")});
  columns_->horizontalHeader()->setSectionResizeMode(kName, QHeaderView::Stretch);
  columns_->verticalHeader()->setVisible(false);
  columns_->setSelectionMode(QAbstractItemView::NoSelection);
  columns_->setToolTip(
      tr("Target: columns the model forecasts. Show: columns drawn on the chart."));

  split_mode_->setObjectName(QStringLiteral("splitMode"));
  split_mode_->addItem(tr("By ratio"), QStringLiteral("ratio"));
  split_mode_->addItem(tr("ETT benchmark (12/4/4 months)"), QStringLiteral("ett"));
  for (QDoubleSpinBox* box : {train_pct_, val_pct_}) {
    box->setRange(0, 99);
    box->setDecimals(1);
    box->setSuffix(QStringLiteral(" %"));
    box->setSingleStep(5);
  }
  train_pct_->setObjectName(QStringLiteral("trainPercent"));
  val_pct_->setObjectName(QStringLiteral("valPercent"));
  lookback_->setObjectName(QStringLiteral("lookback"));
  horizon_->setObjectName(QStringLiteral("horizon"));
  for (QSpinBox* box : {lookback_, horizon_}) {
    box->setRange(1, 100000);
    box->setKeyboardTracking(false);
  }
  train_pct_->setKeyboardTracking(false);
  val_pct_->setKeyboardTracking(false);
  split_label_->setObjectName(QStringLiteral("splitLabel"));
  split_label_->setWordWrap(true);

  auto* split_box = new QGroupBox(tr("Windows and split"), this);
  auto* form = new QFormLayout(split_box);
  form->addRow(tr("Lookback (rows)"), lookback_);
  form->addRow(tr("Horizon (rows)"), horizon_);
  form->addRow(tr("Split"), split_mode_);
  form->addRow(tr("Train"), train_pct_);
  form->addRow(tr("Validation"), val_pct_);
  form->addRow(split_label_);

  auto* reset = new QPushButton(tr("Reset zoom"), this);
  auto* left = new QWidget(this);
  auto* left_layout = new QVBoxLayout(left);
  left_layout->setContentsMargins(0, 0, 0, 0);
  left_layout->addWidget(summary_);
  left_layout->addWidget(columns_, 1);
  left_layout->addWidget(split_box);
  left_layout->addWidget(reset);

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->addWidget(left);
  splitter->addWidget(plot_);
  splitter->setStretchFactor(1, 3);
  splitter->setSizes({320, 900});
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(splitter);

  connect(session_, &ProjectSession::project_replaced, this, &DataPanel::rebuild);
  connect(columns_, &QTableWidget::itemChanged, this, &DataPanel::on_item_changed);
  connect(split_mode_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          &DataPanel::apply_split);
  connect(train_pct_, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          &DataPanel::apply_split);
  connect(val_pct_, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          &DataPanel::apply_split);
  connect(lookback_, qOverload<int>(&QSpinBox::valueChanged), this, &DataPanel::apply_window);
  connect(horizon_, qOverload<int>(&QSpinBox::valueChanged), this, &DataPanel::apply_window);
  connect(reset, &QPushButton::clicked, plot_, &SeriesPlot::reset_zoom);
  rebuild();
}

void DataPanel::rebuild() {
  updating_ = true;
  const data::Table& t = session_->table();
  const DatasetConfig& d = session_->config().dataset;
  const auto targets = data::target_columns(t, d);
  const auto inputs = data::input_columns(t, d);

  QString summary = tr("<b>%1</b><br>%2 rows, %3 numeric columns")
                        .arg(session_->data_label().toHtmlEscaped())
                        .arg(t.rows())
                        .arg(t.numeric_names.size());
  if (!t.timestamps.empty()) {
    const data::Sampling s = data::sampling_of(t);
    summary += tr("<br>%1 to %2, every %3%4")
                   .arg(qs(data::format_datetime(t.timestamps.front())),
                        qs(data::format_datetime(t.timestamps.back())),
                        qs(data::format_interval(s.interval_seconds)),
                        s.regular ? QString() : tr(" (irregular)"));
  }
  if (!t.missing.empty())
    summary += tr("<br>%1 missing values filled forward").arg(t.missing.size());
  summary_->setText(summary);
  summary_->setToolTip(qs(d.path));

  columns_->setRowCount(0);
  // Columns outside dataset.columns are not model inputs; they are not listed.
  for (const auto& name : inputs) {
    const int row = columns_->rowCount();
    columns_->insertRow(row);
    auto* name_item = new QTableWidgetItem(qs(name));
    name_item->setFlags(Qt::ItemIsEnabled);
    columns_->setItem(row, kName, name_item);
    std::int64_t missing = 0;
    for (const auto& c : t.columns)
      if (c.name == name) missing = c.missing;
    auto* missing_item = new QTableWidgetItem(QString::number(missing));
    missing_item->setFlags(Qt::ItemIsEnabled);
    columns_->setItem(row, kMissing, missing_item);
    const bool is_target = std::find(targets.begin(), targets.end(), name) != targets.end();
    columns_->setItem(row, kTarget, check_item(is_target));
    // Show the targets, at most four, so a wide file does not start as a tangle.
    columns_->setItem(row, kShow, check_item(is_target && row < 4));
  }
  columns_->resizeColumnsToContents();
  columns_->horizontalHeader()->setSectionResizeMode(kName, QHeaderView::Stretch);

  split_mode_->setCurrentIndex(d.split.mode == SplitMode::Ett ? 1 : 0);
  train_pct_->setValue(d.split.train * 100.0);
  val_pct_->setValue(d.split.val * 100.0);
  lookback_->setValue(d.lookback);
  horizon_->setValue(d.horizon);
  updating_ = false;
  replot_series();
}

std::vector<std::string> DataPanel::checked(Column column) const {
  std::vector<std::string> names;
  for (int row = 0; row < columns_->rowCount(); ++row)
    if (columns_->item(row, column)->checkState() == Qt::Checked)
      names.push_back(columns_->item(row, kName)->text().toStdString());
  return names;
}

void DataPanel::on_item_changed(QTableWidgetItem* item) {
  if (updating_) return;
  if (item->column() == kShow) {
    replot_series();
    return;
  }
  if (item->column() != kTarget) return;
  const auto targets = checked(kTarget);
  const QString problem = targets.empty() ? tr("Choose at least one target column.")
                                          : session_->set_target_columns(targets);
  if (!problem.isEmpty()) {
    updating_ = true;
    item->setCheckState(item->checkState() == Qt::Checked ? Qt::Unchecked : Qt::Checked);
    updating_ = false;
    Q_EMIT error(problem);
  }
}

void DataPanel::apply_split() {
  if (updating_) return;
  SplitConfig split = session_->config().dataset.split;
  split.mode = split_mode_->currentData().toString() == QStringLiteral("ett") ? SplitMode::Ett
                                                                              : SplitMode::Ratio;
  split.train = train_pct_->value() / 100.0;
  split.val = val_pct_->value() / 100.0;
  const QString problem = session_->set_split(split);
  if (!problem.isEmpty()) {
    split_label_->setText(
        QStringLiteral("<span style='color:#b00020'>%1</span>").arg(problem.toHtmlEscaped()));
    return;
  }
  refresh_split();
}

void DataPanel::apply_window() {
  if (updating_) return;
  const QString problem = session_->set_window(lookback_->value(), horizon_->value());
  if (!problem.isEmpty()) {
    split_label_->setText(
        QStringLiteral("<span style='color:#b00020'>%1</span>").arg(problem.toHtmlEscaped()));
    return;
  }
  refresh_split();
}

void DataPanel::refresh_split() {
  const DatasetConfig& d = session_->config().dataset;
  const bool ratio = d.split.mode == SplitMode::Ratio;
  train_pct_->setEnabled(ratio);
  val_pct_->setEnabled(ratio);
  try {
    const data::SplitRows s =
        data::compute_split(session_->table().rows(), d.split, d.lookback, d.horizon);
    const auto windows = [&](const data::RowRange& r) {
      return data::window_count(r, d.lookback, d.horizon, d.stride);
    };
    split_label_->setText(tr("Windows: train %1, validation %2, test %3")
                              .arg(windows(s.train))
                              .arg(windows(s.val))
                              .arg(windows(s.test)));
    plot_->set_split(&s);
  } catch (const std::invalid_argument& e) {
    split_label_->setText(
        QStringLiteral("<span style='color:#b00020'>%1</span>").arg(qs(e.what()).toHtmlEscaped()));
    plot_->set_split(nullptr);
  }
}

void DataPanel::replot_series() {
  plot_->set_series(session_->table(), checked(kShow));
  refresh_split();  // the bands are placed in the chart's x coordinates
}

}  // namespace latentcast::ui
