// The Model & Memory, Training and Forecast tabs driven as a user would, with the real engine on
// a tiny CPU configuration, offscreen: the live estimate follows every memory control and agrees
// with `latentcast-cli estimate`; an unavailable backend cannot be chosen; a short run fills the
// charts and writes a checkpoint while the GUI thread stays responsive; stop keeps a checkpoint; a
// simulated out-of-memory shows the dialog and the application stays usable; a forecast draws its
// bands and exports the CSV `latentcast-cli forecast` writes for the same seed; the run history
// and its curves come back when the project is reopened.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/project/project.h"
#include "estimator/estimate.h"
#include "model/attention/availability.h"
#include "tests/support/gui_test.h"
#include "tests/support/tiny_project.h"
#include "ui/forecast_panel.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/memory_planner.h"
#include "ui/project_session.h"
#include "ui/qcp.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"

using namespace latentcast;
using latentcast::ui::MainWindow;

namespace {

// Records the longest gap between ticks of a 10 ms timer on the GUI thread.
class GapMeter : public QObject {
 public:
  GapMeter() {
    timer_.setInterval(10);
    QObject::connect(&timer_, &QTimer::timeout, this, [this] {
      const qint64 now = clock_.elapsed();
      if (last_ >= 0) longest_ = std::max(longest_, now - last_);
      last_ = now;
    });
    clock_.start();
    timer_.start();
  }
  qint64 longest_ms() const { return longest_; }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 last_ = -1, longest_ = 0;
};

QString preset_text(const std::string& key) {
  for (const auto& p : estimator::gpu_presets())
    if (p.key == key) return QString::fromStdString(p.description);
  return {};
}

QString run_cli(const QStringList& args, QString* err = nullptr) {
  QProcess p;
  p.start(QStringLiteral(LATENTCAST_CLI), args);
  p.waitForFinished(300000);
  if (err) *err = QString::fromUtf8(p.readAllStandardError());
  return p.exitCode() == 0 ? QString::fromUtf8(p.readAllStandardOutput()) : QString();
}

}  // namespace

class WorkflowTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    lctest::use_gui_test_environment("test_ui_workflow");
    QVERIFY(dir_.isValid());
  }

  void init() {
    window_ = lctest::fresh_main_window();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
    // A tiny project on disk, opened as a user would.
    ProjectConfig c = lctest::tiny_project();
    c.name = "tiny";
    c.training.vae_steps = 3;
    c.training.steps = 30;
    c.training.validate_every = 10;
    c.training.warmup_steps = 2;
    c.forecasting.samples = 4;
    c.forecasting.steps = 4;
    path_ = dir_.filePath(QStringLiteral("tiny%1.lcproj").arg(++count_));
    project::save(c, path_.toStdString());
    QVERIFY(window_->open_path(path_));
  }

  void cleanup() {
    for (auto* d : window_->findChildren<QDialog*>()) d->close();
    window_->training_panel()->controller()->stop();
    QVERIFY(window_->training_panel()->controller()->wait(60000));
    window_->session()->save_to(path_);  // nothing to ask on close
    window_->close();
    window_.reset();
  }

  void every_memory_control_moves_the_estimate() {
    auto* panel = window_->memory_panel();
    auto* total = panel->findChild<QLabel*>(QStringLiteral("estimateTotal"));
    auto* detail = panel->findChild<QLabel*>(QStringLiteral("estimateDetail"));
    auto* savings = panel->findChild<QLabel*>(QStringLiteral("savingsLabel"));
    QVERIFY(total && detail && savings);
    const auto shown = [&] { return window_->planner()->estimate().total_bytes; };
    // What the panel shows: the total, the peak of each stage and the saving of each active option
    // (options of the denoiser move its stage; the total moves where that stage sets the peak).
    const auto view = [&] { return total->text() + detail->text() + savings->text(); };
    const auto changes = [&](const char* what, const std::function<void()>& act) {
      const estimator::Estimate before = window_->planner()->estimate();
      const QString before_view = view();
      act();
      const estimator::Estimate& after = window_->planner()->estimate();
      std::vector<std::int64_t> a, b;
      for (const auto* e : {&before, &after}) {
        auto& v = e == &before ? a : b;
        v = {e->total_bytes, e->vae_stage_bytes, e->diffusion_stage_bytes};
        for (const auto& s : e->savings) v.push_back(s.bytes);
      }
      QVERIFY2(a != b, what);
      QVERIFY2(view() != before_view, what);
      QVERIFY2(total->text().startsWith(QString::fromStdString(estimator::format_bytes(shown()))),
               what);
    };
    const auto combo = [&](const char* name, const QString& text) {
      auto* box = panel->findChild<QComboBox*>(QString::fromLatin1(name));
      QVERIFY(box);
      const int i = box->findText(text);
      QVERIFY2(i >= 0, name);
      box->setCurrentIndex(i);
    };
    const auto spin = [&](const char* name, int value) {
      auto* box = panel->findChild<QSpinBox*>(QString::fromLatin1(name));
      QVERIFY(box);
      box->setValue(value);
    };
    changes("image size", [&] { spin("imageSizeSpin", 64); });  // attention over 256 tokens
    changes("attention levels", [&] {
      auto* edit = panel->findChild<QLineEdit*>(QStringLiteral("attentionLevelsEdit"));
      edit->setText(QStringLiteral("0,1"));
      Q_EMIT edit->editingFinished();
    });
    changes("batch", [&] { spin("batchSpin", 8); });
    QCOMPARE(window_->session()->config().memory.batch_size, 8);
    changes("heads", [&] { spin("headsSpin", 1); });
    // Slices of 8 queries (the default 1024 is more than the 256 tokens here).
    changes("sliced backend", [&] {
      combo("backendCombo", QStringLiteral("sliced"));
      spin("sliceSpin", 8);
    });
    QCOMPARE(window_->session()->config().memory.slice_size, 8);
    changes("checkpointing", [&] { combo("checkpointCombo", QStringLiteral("all")); });
    changes("latent factor", [&] { combo("latentFactorCombo", QStringLiteral("2")); });
    changes("latent channels", [&] { spin("latentChannelsSpin", 8); });
    changes("caching", [&] {
      panel->findChild<QCheckBox*>(QStringLiteral("cachingCheck"))->setChecked(false);
    });
    changes("channels", [&] {
      auto* edit = panel->findChild<QLineEdit*>(QStringLiteral("channelsEdit"));
      edit->setText(QStringLiteral("32,64"));
      Q_EMIT edit->editingFinished();
    });
    changes("local window", [&] {
      combo("backendCombo", QStringLiteral("local_window"));
      spin("windowSpin", 2);
    });
    // Precision moves the estimate on CUDA only: plan for a 24 GB GPU, then switch.
    QVERIFY(!detail->text().contains(QStringLiteral("CUDA allocator")));  // the CPU has none
    combo("gpuCombo", preset_text("24gb"));
    QVERIFY(window_->planner()->device().cuda);
    QVERIFY(detail->text().contains(QStringLiteral("CUDA allocator: expandable segments")));
    changes("precision on a GPU", [&] { combo("precisionCombo", QStringLiteral("bf16")); });

    // The same figure as the CLI for the same settings and device.
    window_->session()->save_to(path_);
    const QString out =
        run_cli({QStringLiteral("estimate"), QStringLiteral("--project"), path_,
                 QStringLiteral("--gpu"), QStringLiteral("24gb"), QStringLiteral("--json")});
    QVERIFY(!out.isEmpty());
    const auto doc = nlohmann::json::parse(out.toStdString());
    QCOMPARE(doc.at("total_bytes").get<std::int64_t>(), shown());

    // A bad value is refused with the field named, and the project keeps its value.
    auto* edit = panel->findChild<QLineEdit*>(QStringLiteral("channelsEdit"));
    edit->setText(QStringLiteral("abc"));
    Q_EMIT edit->editingFinished();
    QVERIFY(window_->last_error().contains(QStringLiteral("model.channels")));
    QCOMPARE(window_->session()->config().model.channels, (std::vector<int>{32, 64}));
  }

  void capacity_bar_and_fit_to_gpu() {
    auto* panel = window_->memory_panel();
    auto* gpu = panel->findChild<QComboBox*>(QStringLiteral("gpuCombo"));
    gpu->setCurrentIndex(gpu->findText(preset_text("6gb")));
    // Far too big for 6 GB: the bar says so, and Fit to GPU applies a change that fits.
    window_->session()->apply_settings({"memory.batch_size=4096", "model.image_size=128"});
    auto* bar = panel->findChild<QProgressBar*>(QStringLiteral("capacityBar"));
    QVERIFY(!window_->planner()->estimate().fits);
    QCOMPARE(bar->property("fits").toBool(), false);
    QVERIFY(bar->styleSheet().contains(QStringLiteral("#c62828")));
    const QString done = panel->fit_to_gpu();
    QVERIFY2(done.startsWith(QStringLiteral("Applied")), qPrintable(done + window_->last_error()));
    QVERIFY(window_->planner()->estimate().fits);
    QCOMPARE(bar->property("fits").toBool(), true);
  }

  void unavailable_backend_cannot_be_chosen() {
    auto* box = window_->memory_panel()->findChild<QComboBox*>(QStringLiteral("backendCombo"));
    auto* model = qobject_cast<QStandardItemModel*>(box->model());
    int unavailable = 0;
    for (int i = 0; i < box->count(); ++i) {
      const auto b = enum_from_string<AttentionBackend>(box->itemText(i).toStdString());
      const Availability a = window_->planner()->availability(*b);
      QCOMPARE(model->item(i)->isEnabled(), a.available);
      if (a.available) continue;
      ++unavailable;
      QCOMPARE(model->item(i)->toolTip(), QString::fromStdString(a.reason));
      // Keyboard selection skips it, as it does every disabled item.
      box->setFocus();
      box->setCurrentIndex(i == 0 ? 1 : i - 1);
      QTest::keyClick(box, i == 0 ? Qt::Key_Up : Qt::Key_Down);
      QVERIFY(box->currentIndex() != i);
    }
    if (unavailable == 0) QSKIP("every backend is available with this LibTorch and device");
  }

  void short_run_fills_charts_and_checkpoints_without_freezing() {
    auto* panel = window_->training_panel();
    GapMeter gaps;
    QVERIFY(panel->start());
    QTRY_VERIFY_WITH_TIMEOUT(!panel->controller()->running(), 240000);
    const RunRecord& run = window_->session()->config().runs.back();
    QCOMPARE(QString::fromStdString(run.status), QStringLiteral("completed"));
    QCOMPARE(run.steps, std::int64_t(30));
    QVERIFY(std::filesystem::exists(run.checkpoint_last));
    QVERIFY(std::filesystem::exists(run.checkpoint_best));
    QVERIFY(panel->loss_plot()->graph(1)->dataCount() > 0);    // training loss
    QVERIFY(panel->loss_plot()->graph(3)->dataCount() > 0);    // validation loss
    QVERIFY(panel->memory_plot()->graph(0)->dataCount() > 0);  // measured peak
    QCOMPARE(panel->memory_plot()->graph(2)->dataCount(), 2);  // the estimate line
    QVERIFY(run.peak_allocated_bytes > 0);
    QCOMPARE(panel->progress_bar()->value(), panel->progress_bar()->maximum());
    QCOMPARE(panel->runs_table()->rowCount(), 1);
    QVERIFY(gaps.longest_ms() < 500);
    qInfo("longest gap between GUI timer ticks during training: %lld ms", gaps.longest_ms());

    // The run and its curves come back with the project.
    window_->session()->save_to(path_);
    QVERIFY(window_->open_path(path_));
    QCOMPARE(panel->runs_table()->rowCount(), 1);
    const RunRecord& reopened = window_->session()->config().runs.back();
    QVERIFY(!reopened.curves.empty());
    panel->runs_table()->selectRow(0);
    QVERIFY(panel->loss_plot()->graph(1)->dataCount() > 0);
    QVERIFY(panel->memory_plot()->graph(0)->dataCount() > 0);
  }

  void pause_resume_and_stop_keep_a_checkpoint() {
    window_->session()->apply_settings({"training.steps=100000"});
    auto* panel = window_->training_panel();
    QVERIFY(panel->start());
    // Past the first epoch (22 steps here), so a last checkpoint exists.
    QTRY_VERIFY_WITH_TIMEOUT(
        panel->progress_bar()->value() >= 30 && panel->progress_bar()->maximum() == 100000, 240000);
    panel->controller()->set_paused(true);
    QTest::qWait(300);
    const int held = panel->progress_bar()->value();
    QTest::qWait(500);
    QCOMPARE(panel->progress_bar()->value(), held);  // paused: no step
    panel->controller()->set_paused(false);
    QTRY_VERIFY_WITH_TIMEOUT(panel->progress_bar()->value() > held, 60000);
    panel->findChild<QPushButton*>(QStringLiteral("stopButton"))->click();
    QTRY_VERIFY_WITH_TIMEOUT(!panel->controller()->running(), 60000);
    const RunRecord run = window_->session()->config().runs.back();
    QCOMPARE(QString::fromStdString(run.status), QStringLiteral("stopped"));
    QVERIFY(run.steps > 30 && run.steps < 100000);
    QVERIFY(std::filesystem::exists(run.checkpoint_last));

    // Resume from it: the step count continues.
    window_->session()->apply_settings({"training.steps=" + std::to_string(run.steps + 5)});
    panel->runs_table()->selectRow(0);
    panel->resume_selected();
    QTRY_VERIFY_WITH_TIMEOUT(!panel->controller()->running(), 120000);
    const RunRecord& resumed = window_->session()->config().runs.back();
    QCOMPARE(resumed.steps, run.steps + 5);
  }

  void out_of_memory_shows_the_dialog_and_the_app_stays_usable() {
    auto* panel = window_->training_panel();
    panel->set_simulated_oom_step(25);
    QVERIFY(panel->start());
    QTRY_VERIFY_WITH_TIMEOUT(!panel->controller()->running(), 240000);
    const RunRecord& run = window_->session()->config().runs.back();
    QCOMPARE(QString::fromStdString(run.status), QStringLiteral("out_of_memory"));
    QVERIFY(std::filesystem::exists(run.checkpoint_last));  // the epoch-end checkpoint survives
    QDialog* dialog = nullptr;
    QTRY_VERIFY((dialog = window_->findChild<QDialog*>(QStringLiteral("oomDialog"))) != nullptr);
    const QString text = dialog->findChild<QLabel*>(QStringLiteral("oomText"))->text();
    QVERIFY(text.contains(QStringLiteral("Estimate for these settings")));
    QVERIFY(text.contains(QStringLiteral("measured peak")));
    auto* apply = dialog->findChild<QPushButton*>(QStringLiteral("applyFixButton"));
    QVERIFY2(apply, qPrintable(text));
    const ProjectConfig before = window_->session()->config();
    apply->click();
    QVERIFY(window_->session()->dirty());
    QVERIFY(project::to_json_text(before, "/") !=
            project::to_json_text(window_->session()->config(), "/"));
    // Still usable: a new run trains to the end.
    panel->set_simulated_oom_step(0);
    window_->session()->apply_settings({"training.steps=5"});
    QVERIFY(panel->start());
    QTRY_VERIFY_WITH_TIMEOUT(!panel->controller()->running(), 240000);
    QCOMPARE(QString::fromStdString(window_->session()->config().runs.back().status),
             QStringLiteral("completed"));
  }

  void forecast_draws_bands_and_exports_the_cli_csv() {
    window_->session()->apply_settings({"training.steps=5"});
    auto* training = window_->training_panel();
    QVERIFY(training->start());
    QTRY_VERIFY_WITH_TIMEOUT(!training->controller()->running(), 240000);
    auto* panel = window_->forecast_panel();
    QVERIFY(!panel->checkpoint().isEmpty());
    // A window of the test split, as a click on the chart would pick it.
    auto* origin = panel->findChild<QSpinBox*>(QStringLiteral("originSpin"));
    const int row = origin->minimum() + 10;
    panel->set_origin(row);
    panel->samples_spin()->setValue(3);
    panel->seed_spin()->setValue(77);
    QCOMPARE(window_->session()->config().forecasting.samples, 3);  // saved with the project
    QCOMPARE(window_->session()->config().forecasting.seed, std::uint64_t(77));
    QVERIFY(panel->run_forecast());
    QTRY_VERIFY_WITH_TIMEOUT(!panel->busy(), 120000);
    QCOMPARE(panel->forecast().rows.front(), std::int64_t(row));
    QVERIFY(!panel->forecast().actual.empty());
    int bands = 0;
    for (int i = 0; i < panel->plot()->graphCount(); ++i)
      if (panel->plot()->graph(i)->channelFillGraph()) ++bands;
    QCOMPARE(bands, 2);  // 50 % and 90 %
    const QString csv = dir_.filePath(QStringLiteral("gui-forecast.csv"));
    QVERIFY(panel->export_csv(csv));
    const QString png = dir_.filePath(QStringLiteral("fan.png"));
    QVERIFY(panel->export_chart(png));
    QVERIFY(QFileInfo(png).size() > 1000);

    window_->session()->save_to(path_);
    const QString cli =
        run_cli({QStringLiteral("forecast"), QStringLiteral("--project"), path_,
                 QStringLiteral("--checkpoint"), panel->checkpoint(), QStringLiteral("--samples"),
                 QStringLiteral("3"), QStringLiteral("--seed"), QStringLiteral("77"),
                 QStringLiteral("--origin"), QString::number(row), QStringLiteral("--device"),
                 QStringLiteral("cpu")});
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(QString::fromUtf8(f.readAll()), cli);

    // Scores of the model beside the baselines.
    QVERIFY(panel->run_evaluation());
    QTRY_VERIFY_WITH_TIMEOUT(!panel->busy(), 240000);
    QCOMPARE(panel->metrics_table()->rowCount(), 4);
    QCOMPARE(panel->metrics_table()->item(0, 0)->text(), QStringLiteral("latentcast"));
  }

 private:
  QTemporaryDir dir_;
  QString path_;
  int count_ = 0;
  std::unique_ptr<MainWindow> window_;
};

QTEST_MAIN(WorkflowTest)
#include "test_workflow.moc"
