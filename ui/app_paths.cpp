#include "ui/app_paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>

namespace latentcast::ui {

QString data_dir() {
  return QDir::cleanPath(QCoreApplication::applicationDirPath() +
                         QStringLiteral("/../share/latentcast"));
}

QString demo_project_path() {
  return data_dir() + QStringLiteral("/demo/demo.lcproj");
}

QString user_data_dir() {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
}

}  // namespace latentcast::ui
