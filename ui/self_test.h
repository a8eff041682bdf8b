// `latentcast --self-test`: checks that this copy of the application is complete and works, without
// a user: its files are found relative to the executable, the demo project installed beside it
// opens through the same code as File > Open, its data is generated, the live estimate runs, the
// icon renders (the SVG plugin is there) and the user's data folder is writable. For the package
// test and for users who want to check an installation.
#pragma once

#include <QString>
#include <QStringList>

namespace latentcast::ui {

class MainWindow;

struct SelfTestResult {
  bool ok = false;
  QStringList lines;  // one per check: "ok   ..." or "FAIL ..."
};

SelfTestResult run_self_test(MainWindow& window);

}  // namespace latentcast::ui
