// Where the application's own files are, found from the running executable, never from the source
// or build tree: <prefix>/bin/latentcast reads <prefix>/share/latentcast/. The build tree has the
// same layout (build/bin, build/share/latentcast), so a build and an installed copy behave alike.
// User data goes to the platform's standard locations (QStandardPaths), preferences to QSettings.
#pragma once

#include <QString>

namespace latentcast::ui {

QString data_dir();           // <prefix>/share/latentcast
QString demo_project_path();  // data_dir()/demo/demo.lcproj
QString user_data_dir();      // QStandardPaths::AppLocalDataLocation: runs of unsaved projects

}  // namespace latentcast::ui
