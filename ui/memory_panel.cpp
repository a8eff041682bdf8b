// The Model & Memory tab.
#include "ui/memory_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QThread>
#include <QVBoxLayout>
#include <memory>

#include "app/project/estimate_target.h"
#include "estimator/estimate.h"
#include "ui/engine_job.h"
#include "ui/memory_planner.h"
#include "ui/project_session.h"
#include "ui/qcp.h"

namespace latentcast::ui {
namespace {

QString bytes(std::int64_t b) {
  return QString::fromStdString(estimator::format_bytes(b));
}

QString join(const std::vector<int>& v) {
  QStringList parts;
  for (const int x : v) parts << QString::number(x);
  return parts.join(QLatin1Char(','));
}

// "64, 128,256" -> {64, 128, 256}; false on anything else.
bool parse_ints(const QString& text, std::vector<int>* out) {
  out->clear();
  const QString trimmed = text.trimmed();
  if (trimmed.isEmpty()) return true;
  for (const QString& part : trimmed.split(QLatin1Char(','))) {
    bool ok = false;
    const int v = part.trimmed().toInt(&ok);
    if (!ok) return false;
    out->push_back(v);
  }
  return true;
}

template <class E>
void fill_enum(QComboBox* box) {
  for (const auto& name : enum_names<E>()) box->addItem(QString::fromStdString(name));
}

template <class E>
E enum_of(const QComboBox* box) {
  return *enum_from_string<E>(box->currentText().toStdString());
}

template <class E>
void select(QComboBox* box, E value) {
  box->setCurrentIndex(box->findText(QString::fromLatin1(to_string(value))));
}

QSpinBox* spin(int lo, int hi, const char* name) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  s->setObjectName(QString::fromLatin1(name));
  s->setAccelerated(true);
  return s;
}

}  // namespace

MemoryPanel::MemoryPanel(ProjectSession* session, MemoryPlanner* planner, QWidget* parent)
    : QWidget(parent), session_(session), planner_(planner) {
  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(split);

  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  auto* controls = new QWidget;
  build_controls(controls);
  scroll->setWidget(controls);
  scroll->setMinimumWidth(340);
  split->addWidget(scroll);

  auto* view = new QWidget;
  auto* v = new QVBoxLayout(view);
  total_ = new QLabel;
  total_->setObjectName(QStringLiteral("estimateTotal"));
  QFont big = total_->font();
  big.setPointSizeF(big.pointSizeF() * 1.5);
  big.setBold(true);
  total_->setFont(big);
  total_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  capacity_bar_ = new QProgressBar;
  capacity_bar_->setObjectName(QStringLiteral("capacityBar"));
  capacity_bar_->setRange(0, 1000);
  capacity_bar_->setTextVisible(true);
  margin_ = new QLabel;
  margin_->setObjectName(QStringLiteral("marginLabel"));
  calibrated_ = new QLabel;
  calibrated_->setObjectName(QStringLiteral("calibratedLabel"));
  calibrated_->setWordWrap(true);
  detail_ = new QLabel;
  detail_->setObjectName(QStringLiteral("estimateDetail"));
  detail_->setWordWrap(true);
  savings_ = new QLabel;
  savings_->setObjectName(QStringLiteral("savingsLabel"));
  savings_->setTextFormat(Qt::RichText);
  savings_->setWordWrap(true);
  breakdown_ = new QCustomPlot;
  breakdown_->setObjectName(QStringLiteral("breakdownPlot"));
  breakdown_->setMinimumHeight(220);
  fit_ = new QPushButton(tr("&Fit to GPU"));
  fit_->setObjectName(QStringLiteral("fitButton"));
  fit_->setToolTip(tr("Apply the estimator's cheapest change that makes the settings fit"));
  measure_ = new QPushButton(tr("&Measure on this machine"));
  measure_->setObjectName(QStringLiteral("measureButton"));
  measure_->setToolTip(
      tr("Train 3 steps of each stage here and record the measured peak: later estimates for "
         "this device show the calibrated figure"));
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(fit_);
  buttons->addWidget(measure_);
  buttons->addStretch();
  v->addWidget(total_);
  v->addWidget(capacity_bar_);
  v->addWidget(margin_);
  v->addWidget(calibrated_);
  v->addLayout(buttons);
  v->addWidget(new QLabel(tr("<b>Breakdown at the peak</b>")));
  v->addWidget(breakdown_, 1);
  v->addWidget(new QLabel(tr("<b>Savings of the active options</b>")));
  v->addWidget(savings_);
  v->addWidget(detail_);
  split->addWidget(view);
  split->setStretchFactor(1, 1);

  connect(fit_, &QPushButton::clicked, this, [this] {
    const QString done = fit_to_gpu();
    if (!done.isEmpty()) Q_EMIT status(done);
  });
  connect(measure_, &QPushButton::clicked, this, &MemoryPanel::measure);
  connect(planner_, &MemoryPlanner::estimate_changed, this, &MemoryPanel::show_estimate);
  connect(session_, &ProjectSession::project_replaced, this, &MemoryPanel::fill_from_config);
  connect(session_, &ProjectSession::config_changed, this, &MemoryPanel::fill_from_config);
  fill_from_config();
  show_estimate();
}

MemoryPanel::~MemoryPanel() {
  if (measure_thread_) measure_thread_->wait();
}

void MemoryPanel::build_controls(QWidget* host) {
  auto* v = new QVBoxLayout(host);

  auto* target = new QGroupBox(tr("Plan for"));
  auto* tf = new QFormLayout(target);
  gpu_ = new QComboBox;
  gpu_->setObjectName(QStringLiteral("gpuCombo"));
  const DeviceReport& d = planner_->devices();
  gpu_->addItem(d.cuda_available
                    ? tr("This machine: %1").arg(QString::fromStdString(d.gpus.front().name))
                    : tr("This machine (CPU)"),
                QString());
  for (const auto& p : estimator::gpu_presets())
    gpu_->addItem(QString::fromStdString(p.description), QString::fromStdString(p.key));
  gpu_->setToolTip(tr("Estimate for this machine, or plan for another GPU by its memory"));
  tf->addRow(tr("&GPU:"), gpu_);
  v->addWidget(target);

  auto* memory = new QGroupBox(tr("Memory"));
  auto* mf = new QFormLayout(memory);
  backend_ = new QComboBox;
  backend_->setObjectName(QStringLiteral("backendCombo"));
  fill_enum<AttentionBackend>(backend_);
  checkpointing_ = new QComboBox;
  checkpointing_->setObjectName(QStringLiteral("checkpointCombo"));
  fill_enum<CheckpointMode>(checkpointing_);
  checkpointing_->setToolTip(
      tr("none: keep every activation; attention: recompute the attention blocks in the "
         "backward; all: recompute every UNet block"));
  precision_ = new QComboBox;
  precision_->setObjectName(QStringLiteral("precisionCombo"));
  fill_enum<Precision>(precision_);
  precision_->setToolTip(tr("bf16 and fp16 autocast take effect on CUDA"));
  batch_ = spin(1, 65536, "batchSpin");
  caching_ = new QCheckBox(tr("Cache latents (encode each window once)"));
  caching_->setObjectName(QStringLiteral("cachingCheck"));
  slice_ = spin(1, 1 << 20, "sliceSpin");
  window_ = spin(1, 4096, "windowSpin");
  overlap_ = spin(0, 4096, "overlapSpin");
  mf->addRow(tr("&Attention backend:"), backend_);
  mf->addRow(tr("Gradient &checkpointing:"), checkpointing_);
  mf->addRow(tr("&Precision:"), precision_);
  mf->addRow(tr("&Batch size:"), batch_);
  mf->addRow(caching_);
  mf->addRow(tr("Slice size (sliced):"), slice_);
  mf->addRow(tr("Window (local window):"), window_);
  mf->addRow(tr("Window overlap:"), overlap_);
  v->addWidget(memory);

  auto* model = new QGroupBox(tr("Model"));
  auto* of = new QFormLayout(model);
  image_size_ = spin(4, 4096, "imageSizeSpin");
  latent_factor_ = new QComboBox;
  latent_factor_->setObjectName(QStringLiteral("latentFactorCombo"));
  for (const int f : {1, 2, 4, 8, 16}) latent_factor_->addItem(QString::number(f), f);
  latent_channels_ = spin(1, 256, "latentChannelsSpin");
  channels_ = new QLineEdit;
  channels_->setObjectName(QStringLiteral("channelsEdit"));
  channels_->setToolTip(tr("UNet channels per level, comma separated"));
  attention_levels_ = new QLineEdit;
  attention_levels_->setObjectName(QStringLiteral("attentionLevelsEdit"));
  attention_levels_->setToolTip(tr("UNet levels (from 0) with self-attention, comma separated"));
  heads_ = spin(1, 256, "headsSpin");
  of->addRow(tr("&Image size:"), image_size_);
  of->addRow(tr("&Latent factor:"), latent_factor_);
  of->addRow(tr("Latent c&hannels:"), latent_channels_);
  of->addRow(tr("UNet channels:"), channels_);
  of->addRow(tr("Attention le&vels:"), attention_levels_);
  of->addRow(tr("H&eads:"), heads_);
  v->addWidget(model);
  v->addStretch();

  connect(gpu_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    if (updating_) return;
    planner_->set_preset(gpu_->currentData().toString());
  });
  connect(backend_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    apply([this](ProjectConfig& c) {
      c.memory.attention_backend = enum_of<AttentionBackend>(backend_);
    });
  });
  connect(checkpointing_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    apply([this](ProjectConfig& c) {
      c.memory.gradient_checkpointing = enum_of<CheckpointMode>(checkpointing_);
    });
  });
  connect(precision_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    apply([this](ProjectConfig& c) { c.memory.precision = enum_of<Precision>(precision_); });
  });
  connect(caching_, &QCheckBox::toggled, this,
          [this](bool on) { apply([on](ProjectConfig& c) { c.memory.latent_caching = on; }); });
  const auto on_spin = [this](QSpinBox* box, std::function<void(ProjectConfig&, int)> setter) {
    connect(box, qOverload<int>(&QSpinBox::valueChanged), this,
            [this, setter](int value) { apply([&](ProjectConfig& c) { setter(c, value); }); });
  };
  on_spin(batch_, [](ProjectConfig& c, int v) { c.memory.batch_size = v; });
  on_spin(slice_, [](ProjectConfig& c, int v) { c.memory.slice_size = v; });
  on_spin(window_, [](ProjectConfig& c, int v) { c.memory.window_size = v; });
  on_spin(overlap_, [](ProjectConfig& c, int v) { c.memory.window_overlap = v; });
  on_spin(image_size_, [](ProjectConfig& c, int v) { c.model.image_size = v; });
  on_spin(latent_channels_, [](ProjectConfig& c, int v) { c.model.latent_channels = v; });
  on_spin(heads_, [](ProjectConfig& c, int v) { c.model.heads = v; });
  connect(latent_factor_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    apply([this](ProjectConfig& c) {
      c.model.latent_factor = latent_factor_->currentData().toInt();
    });
  });
  const auto on_list = [this](QLineEdit* edit, std::vector<int> ModelConfig::*member) {
    connect(edit, &QLineEdit::editingFinished, this, [this, edit, member] {
      if (updating_) return;
      std::vector<int> values;
      if (!parse_ints(edit->text(), &values)) {
        Q_EMIT error(tr("%1: expected whole numbers separated by commas, got \"%2\"")
                         .arg(member == &ModelConfig::channels
                                  ? QStringLiteral("model.channels")
                                  : QStringLiteral("model.attention_levels"),
                              edit->text()));
        fill_from_config();
        return;
      }
      if (values == session_->config().model.*member) return;
      apply([&](ProjectConfig& c) { c.model.*member = values; });
    });
  };
  on_list(channels_, &ModelConfig::channels);
  on_list(attention_levels_, &ModelConfig::attention_levels);
}

void MemoryPanel::apply(const std::function<void(ProjectConfig&)>& edit) {
  if (updating_) return;
  const QString message = session_->change(edit);
  if (!message.isEmpty()) {
    Q_EMIT error(message);
    fill_from_config();  // back to the project's values
  }
}

void MemoryPanel::update_backend_items() {
  auto* model = qobject_cast<QStandardItemModel*>(backend_->model());
  for (int i = 0; i < backend_->count(); ++i) {
    const auto backend = enum_from_string<AttentionBackend>(backend_->itemText(i).toStdString());
    const Availability a = planner_->availability(*backend);
    QStandardItem* item = model->item(i);
    item->setEnabled(a.available);
    item->setToolTip(a.available ? QString::fromLatin1(describe(*backend))
                                 : QString::fromStdString(a.reason));
  }
}

void MemoryPanel::fill_from_config() {
  const bool was = updating_;
  updating_ = true;
  const ProjectConfig& c = session_->config();
  update_backend_items();
  select(backend_, c.memory.attention_backend);
  select(checkpointing_, c.memory.gradient_checkpointing);
  select(precision_, c.memory.precision);
  batch_->setValue(c.memory.batch_size);
  caching_->setChecked(c.memory.latent_caching);
  slice_->setValue(c.memory.slice_size);
  window_->setValue(c.memory.window_size);
  overlap_->setValue(c.memory.window_overlap);
  image_size_->setValue(c.model.image_size);
  const int factor = latent_factor_->findData(c.model.latent_factor);
  if (factor < 0)
    latent_factor_->addItem(QString::number(c.model.latent_factor), c.model.latent_factor);
  latent_factor_->setCurrentIndex(latent_factor_->findData(c.model.latent_factor));
  latent_channels_->setValue(c.model.latent_channels);
  if (!channels_->hasFocus()) channels_->setText(join(c.model.channels));
  if (!attention_levels_->hasFocus()) attention_levels_->setText(join(c.model.attention_levels));
  heads_->setValue(c.model.heads);
  gpu_->setCurrentIndex(std::max(0, gpu_->findData(planner_->preset())));
  updating_ = was;
}

void MemoryPanel::show_estimate() {
  const auto& e = planner_->estimate();
  breakdown_->clearPlottables();
  if (!planner_->error().isEmpty()) {
    total_->setText(tr("No estimate"));
    margin_->setText(planner_->error());
    margin_->setStyleSheet(QStringLiteral("color: #b00020;"));
    capacity_bar_->setValue(0);
    savings_->clear();
    detail_->clear();
    calibrated_->clear();
    fit_->setEnabled(false);
    breakdown_->replot();
    return;
  }
  const auto& device = planner_->device();
  const bool known = e.capacity_bytes > 0;
  total_->setText(known ? tr("%1 of %2").arg(bytes(e.total_bytes), bytes(e.capacity_bytes))
                        : tr("%1 (capacity unknown)").arg(bytes(e.total_bytes)));
  total_->setToolTip(
      tr("%1 bytes on %2").arg(e.total_bytes).arg(QString::fromStdString(device.name)));
  const double used = known ? double(e.total_bytes) / double(e.capacity_bytes) : 0.0;
  capacity_bar_->setValue(int(std::min(1.0, used) * 1000));
  capacity_bar_->setFormat(known ? QStringLiteral("%1 %").arg(100 * used, 0, 'f', 1)
                                 : tr("no capacity to compare with"));
  const QString color = !e.fits
                            ? QStringLiteral("#c62828")
                            : (used > 0.9 ? QStringLiteral("#ef8f00") : QStringLiteral("#2e7d32"));
  capacity_bar_->setStyleSheet(
      QStringLiteral("QProgressBar::chunk { background-color: %1; }").arg(color));
  capacity_bar_->setProperty("fits", e.fits);
  if (!known)
    margin_->setText(tr("Plan for a GPU preset to check the fit"));
  else if (e.fits)
    margin_->setText(tr("Fits, with %1 to spare").arg(bytes(e.margin_bytes)));
  else
    margin_->setText(tr("Will not fit: %1 over the capacity").arg(bytes(-e.margin_bytes)));
  margin_->setStyleSheet(QStringLiteral("color: %1;").arg(color));
  fit_->setEnabled(known);

  const auto cal = planner_->calibrated();
  calibrated_->setText(cal ? tr("Calibrated for %1: %2 (measured / predicted %3, %4)")
                                 .arg(QString::fromStdString(device.name), bytes(cal->total_bytes))
                                 .arg(cal->ratio, 0, 'f', 3)
                                 .arg(QString::fromStdString(cal->measured))
                           : QString());
  calibrated_->setVisible(cal.has_value());

  QStringList saved;
  for (const auto& s : e.savings) {
    if (s.bytes <= 0) continue;
    saved << QStringLiteral("<span style='color:#2e7d32'>%1: &minus;%2</span>")
                 .arg(QString::fromStdString(s.label).toHtmlEscaped(), bytes(s.bytes));
  }
  savings_->setText(saved.isEmpty() ? tr("None of the active options lowers this peak.")
                                    : saved.join(QStringLiteral("<br>")));
  detail_->setText(
      tr("Backend: %1 · peak in %2<br>Tensor peaks: stage 1 (VAE) %3, stage 2 "
         "(denoiser) %4 · allocated %5, reserved %6, context %7 · estimated in %8 ms")
          .arg(QString::fromLatin1(to_string(e.backend)), QString::fromStdString(e.peak_phase),
               bytes(e.vae_stage_bytes), bytes(e.diffusion_stage_bytes), bytes(e.allocated_bytes),
               bytes(e.reserved_bytes), bytes(e.context_bytes))
          .arg(planner_->estimate_seconds() * 1e3, 0, 'f', 2) +
      (e.context_bytes > 0 ? QStringLiteral("<br>") +
                                 (e.expandable_segments
                                      ? tr("CUDA allocator: expandable segments (the reserve stays "
                                           "close to the allocated peak)")
                                      : tr("CUDA allocator: one cudaMalloc per segment (your "
                                           "PYTORCH_CUDA_ALLOC_CONF); expect more reserve"))
                           : QString()));

  // The breakdown as horizontal bars, largest on top.
  std::vector<estimator::Term> terms;
  for (const auto& t : e.breakdown)
    if (t.bytes > 0) terms.push_back(t);
  std::sort(terms.begin(), terms.end(),
            [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
  auto* bars = new QCPBars(breakdown_->yAxis, breakdown_->xAxis);
  bars->setName(tr("bytes"));
  bars->setBrush(QColor(31, 119, 180, 170));
  bars->setPen(QPen(QColor(31, 119, 180)));
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  QVector<double> keys, values;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    keys << double(i);
    values << double(terms[i].bytes) / (1024.0 * 1024.0);
    ticker->addTick(
        double(i),
        QString::fromStdString(terms[i].name).replace(QLatin1Char('_'), QLatin1Char(' ')));
  }
  bars->setData(keys, values);
  breakdown_->yAxis->setTicker(ticker);
  breakdown_->yAxis->setRange(-0.6, std::max<double>(1, double(terms.size())) - 0.4);
  breakdown_->xAxis->setLabel(tr("MiB"));
  breakdown_->xAxis->setRange(
      0, values.isEmpty() ? 1 : *std::max_element(values.begin(), values.end()) * 1.1);
  breakdown_->replot();
}

QString MemoryPanel::fit_to_gpu() {
  const estimator::Recommendation r = planner_->recommend();
  if (r.capacity_bytes <= 0) {
    Q_EMIT error(tr("The capacity of this device is unknown: choose a GPU preset to plan for."));
    return {};
  }
  const auto& e = planner_->estimate();
  if (e.fits && r.fits_now)
    return tr("Fits already (%1 of %2); the largest batch that fits is %3")
        .arg(bytes(e.total_bytes), bytes(r.capacity_bytes))
        .arg(r.max_batch_size);
  std::vector<std::string> setting;
  if (!r.changes.empty())
    setting.push_back(r.changes.front().key + "=" + r.changes.front().value);
  else if (r.max_batch_size > 0)
    setting.push_back("memory.batch_size=" + std::to_string(r.max_batch_size));
  if (setting.empty()) {
    Q_EMIT error(tr("No single change makes these settings fit in %1; a smaller model or image "
                    "size is needed.")
                     .arg(bytes(r.capacity_bytes)));
    return {};
  }
  const QString message = session_->apply_settings(setting);
  if (!message.isEmpty()) {
    Q_EMIT error(message);
    return {};
  }
  return tr("Applied %1: the estimate is now %2")
      .arg(QString::fromStdString(setting.front()), bytes(planner_->estimate().total_bytes));
}

void MemoryPanel::measure() {
  if (measure_thread_) return;
  engine::MeasureRequest request;
  request.config = session_->config();
  request.device = "auto";
  request.steps = 3;
  auto result = std::make_shared<engine::MeasureResult>();
  measure_->setEnabled(false);
  measure_->setText(tr("Measuring..."));
  Q_EMIT status(tr("Measuring 3 steps of each stage on this machine..."));
  measure_thread_ = start_job(
      this, [request, result] { *result = engine::measure(request, {}); },
      [this, result](const JobError& failure) {
        measure_thread_ = nullptr;
        measure_->setEnabled(true);
        measure_->setText(tr("&Measure on this machine"));
        if (failure.failed) {
          Q_EMIT error(tr("Measurement failed: %1").arg(failure.message));
        } else {
          const estimator::Estimate predicted =
              estimator::estimate_peak(planner_->machine_request(session_->config()));
          session_->add_calibration(project::make_calibration(
              *result, predicted,
              QDateTime::currentDateTime().toString(Qt::ISODate).toStdString()));
          Q_EMIT status(tr("Measured %1 peak on %2 (estimated %3)")
                            .arg(bytes(result->peak_reserved_bytes),
                                 QString::fromStdString(result->device),
                                 bytes(predicted.reserved_bytes)));
        }
        Q_EMIT measured();
      });
}

}  // namespace latentcast::ui
