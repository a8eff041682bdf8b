// The Data tab driven as a user would: open a CSV, pick a target, save, reopen, compare; bad files
// show the loader's message and leave the current project loaded; unsaved changes are asked about.
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUrl>
#include "ui/qcp.h"

#include "app/project/project.h"
#include "tests/support/gui_test.h"
#include "ui/data_panel.h"
#include "ui/main_window.h"
#include "ui/project_session.h"
#include "ui/series_plot.h"

using latentcast::ui::DataPanel;
using latentcast::ui::MainWindow;

namespace {

// Writes an hourly CSV with three numeric columns (x follows a daily cycle).
QString write_csv(const QString& dir, const QString& name, int rows) {
  const QString path = dir + QLatin1Char('/') + name;
  QFile f(path);
  f.open(QIODevice::WriteOnly | QIODevice::Truncate);
  f.write("date,x,y,z\n");
  for (int i = 0; i < rows; ++i) {
    const QDateTime t = QDateTime(QDate(2021, 3, 1), QTime(0, 0), Qt::UTC).addSecs(3600LL * i);
    f.write(QStringLiteral("%1,%2,%3,%4\n")
                .arg(t.toString(QStringLiteral("yyyy-MM-dd hh:mm:ss")))
                .arg(std::sin(i * 2 * M_PI / 24.0), 0, 'f', 6)
                .arg(i * 0.01, 0, 'f', 4)
                .arg((i * 7) % 13)
                .toUtf8());
  }
  return path;
}

int row_of(QTableWidget* table, const QString& name) {
  for (int r = 0; r < table->rowCount(); ++r)
    if (table->item(r, DataPanel::kName)->text() == name) return r;
  return -1;
}

// Clicks the check box of a cell, as a user does.
void click_check(QTableWidget* table, int row, int column) {
  table->scrollToItem(table->item(row, column));
  const QRect cell = table->visualItemRect(table->item(row, column));
  QStyleOptionViewItem opt;
  opt.initFrom(table->viewport());
  opt.rect = cell;
  opt.features = QStyleOptionViewItem::HasCheckIndicator;
  const QRect box =
      table->style()->subElementRect(QStyle::SE_ItemViewItemCheckIndicator, &opt, table);
  const QPoint at = box.isValid() ? box.center() : cell.center();
  QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, at);
}

// Answers the next modal prompt with `button` once it appears.
void answer_prompt(QMessageBox::StandardButton button) {
  QTimer::singleShot(0, [button] {
    QTRY_VERIFY_WITH_TIMEOUT(QApplication::activeModalWidget() != nullptr, 5000);
    auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
    QVERIFY(box);
    QCOMPARE(box->objectName(), QStringLiteral("unsavedPrompt"));
    box->button(button)->click();
  });
}

QMessageBox* error_dialog(QWidget* window) {
  return window->findChild<QMessageBox*>(QStringLiteral("errorDialog"));
}

}  // namespace

class DataTabTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    lctest::use_gui_test_environment("test_ui_data");
    QVERIFY(dir_.isValid());
  }

  void init() {
    window_ = lctest::fresh_main_window();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
  }

  void cleanup() {
    // Nothing is dirty at the end of a case unless the case left it so on purpose.
    for (auto* box : window_->findChildren<QMessageBox*>()) box->close();
    if (window_->session()->dirty()) {
      answer_prompt(QMessageBox::Discard);
    }
    window_->close();
    window_.reset();
  }

  void demo_project_loads_with_chart_and_split() {
    QVERIFY(window_->load_demo());
    const auto& cfg = window_->session()->config();
    QCOMPARE(QString::fromStdString(cfg.dataset.path), QStringLiteral("builtin:demo"));
    auto* table = window_->data_panel()->columns_table();
    QCOMPARE(table->rowCount(), 4);
    QVERIFY(window_->data_panel()->series_plot()->graph_count() >= 1);
    double x0 = 0, x1 = 0;
    QVERIFY(window_->data_panel()->series_plot()->split_band(2, &x0, &x1));  // test band visible
    QVERIFY(x1 > x0);
    QVERIFY(window_->data_panel()->split_label()->text().contains(QStringLiteral("train")));
  }

  void open_csv_pick_target_save_reopen() {
    const QString csv = write_csv(dir_.path(), QStringLiteral("series.csv"), 600);
    QVERIFY(window_->open_path(csv));
    auto* table = window_->data_panel()->columns_table();
    QCOMPARE(table->rowCount(), 3);
    QVERIFY(window_->session()->dirty());  // an import is a new, unsaved project

    // All columns start as targets; the user unticks x and z, keeping y.
    click_check(table, row_of(table, QStringLiteral("x")), DataPanel::kTarget);
    click_check(table, row_of(table, QStringLiteral("z")), DataPanel::kTarget);
    const std::vector<std::string> expected{"y"};
    QCOMPARE(window_->session()->config().dataset.target_columns, expected);

    // The lookback spin box edits the project, and the split label follows.
    auto* lookback = window_->data_panel()->findChild<QSpinBox*>(QStringLiteral("lookback"));
    auto* horizon = window_->data_panel()->findChild<QSpinBox*>(QStringLiteral("horizon"));
    lookback->setValue(48);
    horizon->setValue(12);
    QCOMPARE(window_->session()->config().dataset.lookback, 48);
    QVERIFY(window_->data_panel()->split_label()->text().contains(QStringLiteral("Windows")));

    const QString project = dir_.path() + QStringLiteral("/series.lcproj");
    QVERIFY(window_->save_as(project));
    QVERIFY(!window_->session()->dirty());
    QVERIFY(window_->windowTitle().startsWith(QStringLiteral("series.lcproj")));
    const std::string saved = latentcast::project::to_json_text(window_->session()->config(), "/");

    // Reopen in a fresh window: same settings, same columns, target ticked.
    window_->close();
    window_ = std::make_unique<MainWindow>();
    window_->show();
    QVERIFY(window_->open_path(project));
    QCOMPARE(latentcast::project::to_json_text(window_->session()->config(), "/"), saved);
    table = window_->data_panel()->columns_table();
    QCOMPARE(table->item(row_of(table, QStringLiteral("y")), DataPanel::kTarget)->checkState(),
             Qt::Checked);
    QCOMPARE(table->item(row_of(table, QStringLiteral("x")), DataPanel::kTarget)->checkState(),
             Qt::Unchecked);
    QCOMPARE(window_->recent_files().first(), QFileInfo(project).absoluteFilePath());
  }

  void bad_csv_shows_error_and_keeps_project() {
    const QString good = write_csv(dir_.path(), QStringLiteral("good.csv"), 400);
    QVERIFY(window_->open_path(good));
    QVERIFY(window_->save_as(dir_.path() + QStringLiteral("/good.lcproj")));
    const std::string before = latentcast::project::to_json_text(window_->session()->config(), "/");

    const QString bad = dir_.path() + QStringLiteral("/ragged.csv");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("a,b\n1,2\n3,4\n5\n");
    f.close();
    QVERIFY(!window_->open_path(bad));
    QTRY_VERIFY(error_dialog(window_.get()) != nullptr);
    const QString message = error_dialog(window_.get())->text();
    QVERIFY2(message.contains(QStringLiteral("ragged.csv:4")), qPrintable(message));
    QCOMPARE(window_->last_error(), message);
    QCOMPARE(latentcast::project::to_json_text(window_->session()->config(), "/"), before);
    QCOMPARE(window_->data_panel()->columns_table()->rowCount(), 3);
  }

  void corrupt_project_is_refused_and_left_intact() {
    QVERIFY(window_->load_demo());
    const QString path = dir_.path() + QStringLiteral("/broken.lcproj");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"schema_version\": 1, \"memory\": {\"batch_size\": ");
    f.close();
    QVERIFY(!window_->open_path(path));
    QTRY_VERIFY(error_dialog(window_.get()) != nullptr);
    QVERIFY(window_->last_error().contains(QStringLiteral("broken.lcproj")));
    QCOMPARE(QString::fromStdString(window_->session()->config().dataset.path),
             QStringLiteral("builtin:demo"));
    QFile check(path);
    QVERIFY(check.open(QIODevice::ReadOnly));
    QCOMPARE(check.readAll(), QByteArray("{\"schema_version\": 1, \"memory\": {\"batch_size\": "));
  }

  void unsaved_changes_prompt_can_cancel() {
    const QString csv = write_csv(dir_.path(), QStringLiteral("first.csv"), 400);
    QVERIFY(window_->open_path(csv));
    QVERIFY(window_->session()->dirty());
    answer_prompt(QMessageBox::Cancel);
    QVERIFY(!window_->load_demo());  // cancelled: the import stays
    QVERIFY(window_->session()->config().dataset.path.find("first.csv") != std::string::npos);
    answer_prompt(QMessageBox::Discard);
    QVERIFY(window_->load_demo());
    QCOMPARE(QString::fromStdString(window_->session()->config().dataset.path),
             QStringLiteral("builtin:demo"));
  }

  void drop_a_file_opens_it() {
    const QString csv = write_csv(dir_.path(), QStringLiteral("dropped.csv"), 300);
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(csv)});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &drop);
    QVERIFY(window_->session()->config().dataset.path.find("dropped.csv") != std::string::npos);
  }

  void save_shortcut_saves_to_the_project_path() {
    const QString csv = write_csv(dir_.path(), QStringLiteral("keys.csv"), 400);
    QVERIFY(window_->open_path(csv));
    const QString project = dir_.path() + QStringLiteral("/keys.lcproj");
    QVERIFY(window_->save_as(project));
    auto* horizon = window_->data_panel()->findChild<QSpinBox*>(QStringLiteral("horizon"));
    horizon->setValue(7);
    QVERIFY(window_->session()->dirty());
    QTest::keyClick(window_.get(), Qt::Key_S, Qt::ControlModifier);
    QTRY_VERIFY(!window_->session()->dirty());
    QCOMPARE(latentcast::project::load(project.toStdString()).dataset.horizon, 7);
  }

  void invalid_split_is_shown_inline() {
    QVERIFY(window_->load_demo());
    auto* lookback = window_->data_panel()->findChild<QSpinBox*>(QStringLiteral("lookback"));
    lookback->setValue(5000);  // longer than the validation split
    QVERIFY(window_->data_panel()->split_label()->text().contains(QStringLiteral("fewer than")));
    double x0, x1;
    QVERIFY(!window_->data_panel()->series_plot()->split_band(1, &x0, &x1));
  }

 private:
  QTemporaryDir dir_;
  std::unique_ptr<MainWindow> window_;
};

QTEST_MAIN(DataTabTest)
#include "test_data_tab.moc"
