// latentcast: the desktop application. Opens the file given on the command line, or the built-in
// demo.
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>

#include "ui/main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Latentcast"));
  QApplication::setApplicationName(QStringLiteral("Latentcast"));
  QApplication::setApplicationVersion(QStringLiteral(LATENTCAST_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(
      QStringLiteral("Latent-diffusion forecasting with a live VRAM estimate"));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("file"),
                               QStringLiteral("A project (.lcproj) or CSV to open"));
  const QCommandLineOption screenshot(
      QStringLiteral("screenshot"),
      QStringLiteral("Save a PNG of the window once loaded, then quit."), QStringLiteral("png"));
  parser.addOption(screenshot);
  parser.process(app);

  latentcast::ui::MainWindow window;
  window.show();
  const QStringList files = parser.positionalArguments();
  const bool loaded = files.isEmpty() ? window.load_demo() : window.open_path(files.first());

  if (parser.isSet(screenshot)) {
    const QString out = parser.value(screenshot);
    QTimer::singleShot(1500, &window, [&window, out, loaded] {
      const bool saved = window.grab().save(out);
      std::fprintf(stderr, "%s %s\n", saved ? "saved" : "could not save", qPrintable(out));
      QApplication::exit(saved && loaded ? 0 : 1);
    });
  }
  return app.exec();
}
