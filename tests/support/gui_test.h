// What every Qt GUI test sets up: a C locale, Qt's test-mode standard paths, its own settings
// namespace (cleared for each window) and a shown main window.
#pragma once

#include <QCoreApplication>
#include <QLocale>
#include <QSettings>
#include <QStandardPaths>
#include <memory>

#include "ui/main_window.h"

namespace lctest {

inline void use_gui_test_environment(const char* application) {
  QLocale::setDefault(QLocale::c());
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("LatentcastTest"));
  QCoreApplication::setApplicationName(QString::fromLatin1(application));
}

// A main window on fresh settings, shown (callers wait for it to be exposed).
inline std::unique_ptr<latentcast::ui::MainWindow> fresh_main_window() {
  QSettings().clear();
  auto window = std::make_unique<latentcast::ui::MainWindow>();
  window->show();
  return window;
}

}  // namespace lctest
