// Series preview chart built on QCustomPlot.
#include "ui/series_plot.h"

#include <QVBoxLayout>
#include "ui/qcp.h"

namespace latentcast::ui {
namespace {

const QColor kPalette[] = {QColor(31, 119, 180),  QColor(255, 127, 14),  QColor(44, 160, 44),
                           QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                           QColor(227, 119, 194), QColor(127, 127, 127)};
const QColor kBandColors[] = {QColor(60, 140, 60, 28), QColor(230, 160, 30, 45),
                              QColor(200, 60, 60, 40)};
const char* const kBandNames[] = {"train", "validation", "test"};

}  // namespace

SeriesPlot::SeriesPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectPlottables);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  plot_->legend->setVisible(true);
  plot_->legend->setFont(QFont(font().family(), 8));
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  plot_->setNoAntialiasingOnDrag(true);
  for (int i = 0; i < 3; ++i) {
    bands_[i] = new QCPItemRect(plot_);
    bands_[i]->setPen(Qt::NoPen);
    bands_[i]->setBrush(kBandColors[i]);
    bands_[i]->setLayer(QStringLiteral("background"));
    bands_[i]->setVisible(false);
    bands_[i]->setObjectName(QString::fromLatin1(kBandNames[i]));
    labels_[i] = new QCPItemText(plot_);
    labels_[i]->setText(QString::fromLatin1(kBandNames[i]));
    QColor ink = kBandColors[i];
    ink.setAlpha(255);
    labels_[i]->setColor(ink.darker(170));
    labels_[i]->setPositionAlignment(Qt::AlignTop | Qt::AlignHCenter);
    labels_[i]->position->setParentAnchorX(bands_[i]->top);
    labels_[i]->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    labels_[i]->position->setCoords(0, 0.01);
    labels_[i]->setClipToAxisRect(true);
    labels_[i]->setVisible(false);
  }
  plot_->setObjectName(QStringLiteral("seriesPlot"));
}

double SeriesPlot::x_of_row(std::int64_t row) const {
  if (x_.empty()) return double(row);
  if (row < 0) return x_.front();
  if (row >= std::int64_t(x_.size())) return x_.back();
  return x_[std::size_t(row)];
}

void SeriesPlot::set_series(const data::Table& table, const std::vector<std::string>& columns) {
  plot_->clearGraphs();
  const std::int64_t n = table.rows();
  x_.resize(std::size_t(n));
  const bool dated = std::int64_t(table.timestamps.size()) == n && n > 0;
  for (std::int64_t i = 0; i < n; ++i)
    x_[std::size_t(i)] = dated ? double(table.timestamps[std::size_t(i)]) : double(i);
  if (dated) {
    auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
    ticker->setDateTimeFormat(QStringLiteral("yyyy-MM-dd\nhh:mm"));
    ticker->setDateTimeSpec(Qt::UTC);
    plot_->xAxis->setTicker(ticker);
    plot_->xAxis->setLabel(QString::fromStdString(table.date_column));
  } else {
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    plot_->xAxis->setLabel(QStringLiteral("row"));
  }
  QVector<double> keys(x_.begin(), x_.end());
  int color = 0;
  for (const auto& name : columns) {
    const int j = table.numeric_index(name);
    if (j < 0) continue;
    QCPGraph* g = plot_->addGraph();
    g->setName(QString::fromStdString(name));
    g->setPen(QPen(kPalette[color++ % 8], 1.2));
    const auto& v = table.values[std::size_t(j)];
    g->setData(keys, QVector<double>(v.begin(), v.end()), true);
    g->setAdaptiveSampling(true);
  }
  reset_zoom();
}

void SeriesPlot::place_band(int index, const data::RowRange& range) {
  QCPItemRect* band = bands_[index];
  band->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
  band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
  band->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
  band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
  band->topLeft->setCoords(x_of_row(range.begin), 0);
  band->bottomRight->setCoords(x_of_row(range.end - 1), 1);
  band->setVisible(range.size() > 0);
  labels_[index]->setVisible(range.size() > 0);
}

void SeriesPlot::set_split(const data::SplitRows* split) {
  if (!split) {
    for (int i = 0; i < 3; ++i) {
      bands_[i]->setVisible(false);
      labels_[i]->setVisible(false);
    }
  } else {
    // Validation and test start `lookback` rows early (their history); shade from their first
    // forecast row so the bands do not overlap.
    place_band(0, split->train);
    place_band(1, {split->train.end, split->val.end});
    place_band(2, {split->val.end, split->test.end});
  }
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void SeriesPlot::reset_zoom() {
  plot_->rescaleAxes();
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

int SeriesPlot::graph_count() const {
  return plot_->graphCount();
}

bool SeriesPlot::split_band(int index, double* x0, double* x1) const {
  if (index < 0 || index > 2 || !bands_[index]->visible()) return false;
  *x0 = bands_[index]->topLeft->coords().x();
  *x1 = bands_[index]->bottomRight->coords().x();
  return true;
}

}  // namespace latentcast::ui
