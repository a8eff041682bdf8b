#include "ui/self_test.h"

#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QTemporaryFile>
#include <functional>

#include "ui/app_paths.h"
#include "ui/main_window.h"
#include "ui/memory_planner.h"
#include "ui/project_session.h"

namespace latentcast::ui {

namespace {

QString mib(std::int64_t bytes) {
  return QString::number(static_cast<double>(bytes) / (1024.0 * 1024.0), 'f', 1) +
         QStringLiteral(" MiB");
}

}  // namespace

SelfTestResult run_self_test(MainWindow& window) {
  SelfTestResult result;
  result.ok = true;
  // Each check returns an empty string when it passes, else what is wrong; later checks still run
  // so one report names every problem.
  const auto check = [&result](const QString& what, const std::function<QString()>& body) {
    const QString problem = body();
    result.lines << (problem.isEmpty()
                         ? QStringLiteral("ok   ") + what
                         : QStringLiteral("FAIL ") + what + QStringLiteral(": ") + problem);
    result.ok = result.ok && problem.isEmpty();
    return problem.isEmpty();
  };

  const QString demo = demo_project_path();
  check(QStringLiteral("data folder %1").arg(data_dir()), [] {
    return QFileInfo(data_dir()).isDir()
               ? QString()
               : QStringLiteral("missing (the installation is incomplete)");
  });
  const bool opened = check(QStringLiteral("open the demo project %1").arg(demo), [&] {
    if (!QFileInfo::exists(demo)) return QStringLiteral("the file is missing");
    return window.session()->open_project(demo);
  });
  if (opened) {
    check(QStringLiteral("demo data generated"), [&] {
      const auto rows = window.session()->table().rows();
      return rows > 0 ? QString() : QStringLiteral("the demo series has no rows");
    });
    check(QStringLiteral("live VRAM estimate"), [&] {
      if (!window.planner()->error().isEmpty()) return window.planner()->error();
      const std::int64_t total = window.planner()->estimate().total_bytes;
      return total > 0 ? QString() : QStringLiteral("the estimate is %1").arg(mib(total));
    });
  }
  check(QStringLiteral("application icon"), [] {
    const QIcon icon(QStringLiteral(":/icons/latentcast.svg"));
    return icon.pixmap(64, 64).isNull()
               ? QStringLiteral("does not render (is the Qt SVG plugin, libqt6svg6, installed?)")
               : QString();
  });
  check(QStringLiteral("user data folder %1").arg(user_data_dir()), [] {
    const QString dir = user_data_dir();
    if (dir.isEmpty()) return QStringLiteral("no standard location on this platform");
    if (!QDir().mkpath(dir)) return QStringLiteral("cannot be created");
    QTemporaryFile probe(dir + QStringLiteral("/self-test-XXXXXX"));
    return probe.open() ? QString() : QStringLiteral("is not writable");
  });
  return result;
}

}  // namespace latentcast::ui
