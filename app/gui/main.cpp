// latentcast: the desktop application. Opens the file given on the command line, or the built-in
// demo.
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>

#include "model/device.h"
#include "ui/forecast_panel.h"
#include "ui/main_window.h"
#include "ui/self_test.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"

int main(int argc, char** argv) {
  latentcast::configure_cuda_allocator();  // before any CUDA work
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Latentcast"));
  QApplication::setApplicationName(QStringLiteral("Latentcast"));
  QApplication::setApplicationVersion(QStringLiteral(LATENTCAST_VERSION));
  QGuiApplication::setDesktopFileName(QStringLiteral("latentcast"));  // Wayland: the .desktop entry

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
  const QCommandLineOption tour(
      QStringLiteral("tour"),
      QStringLiteral("Train the opened project, forecast and score it, save a PNG of every tab "
                     "into <dir>, then quit (for the documentation's screenshots)."),
      QStringLiteral("dir"));
  parser.addOption(tour);
  const QCommandLineOption self_test(
      QStringLiteral("self-test"),
      QStringLiteral("Check this installation (its files, the demo project, the estimate, the "
                     "icon, the user data folder), print one line per check, exit 0 when all "
                     "pass."));
  parser.addOption(self_test);
  parser.process(app);

  latentcast::ui::MainWindow window;
  if (parser.isSet(self_test)) {
    const latentcast::ui::SelfTestResult result = latentcast::ui::run_self_test(window);
    for (const QString& line : result.lines) std::printf("%s\n", qPrintable(line));
    std::printf("self-test: %s\n", result.ok ? "passed" : "FAILED");
    return result.ok ? 0 : 1;
  }
  window.show();
  const QStringList files = parser.positionalArguments();
  const bool loaded = files.isEmpty() ? window.load_demo() : window.open_path(files.first());

  if (parser.isSet(tour)) {
    const QString dir = parser.value(tour);
    auto* training = window.training_panel();
    auto* forecast = window.forecast_panel();
    const auto shoot_all = [&window, dir] {
      const char* const names[] = {"data", "memory", "training", "forecast"};
      bool ok = true;
      for (int i = 0; i < window.tabs()->count() && i < 4; ++i) {
        window.tabs()->setCurrentIndex(i);
        QApplication::processEvents();
        const QString file =
            dir + QStringLiteral("/screenshot-%1.png").arg(QLatin1String(names[i]));
        ok = window.grab().save(file) && ok;
        std::fprintf(stderr, "%s %s\n", ok ? "saved" : "could not save", qPrintable(file));
      }
      QApplication::exit(ok ? 0 : 1);
    };
    QObject::connect(forecast, &latentcast::ui::ForecastPanel::evaluation_ready, &window, [&] {
      window.tabs()->setCurrentIndex(3);
      QTimer::singleShot(500, &window, shoot_all);
    });
    QObject::connect(forecast, &latentcast::ui::ForecastPanel::forecast_ready, &window,
                     [forecast] { forecast->run_evaluation(); });
    QObject::connect(training, &latentcast::ui::TrainingPanel::run_finished, &window, [&] {
      const std::int64_t end = -1;
      forecast->set_origin(end);
      if (!forecast->run_forecast()) QApplication::exit(1);
    });
    QObject::connect(forecast, &latentcast::ui::ForecastPanel::error, &window,
                     [](const QString& m) {
                       std::fprintf(stderr, "tour: %s\n", qPrintable(m));
                       QApplication::exit(1);
                     });
    if (!loaded) return 1;
    window.tabs()->setCurrentIndex(2);
    QTimer::singleShot(200, &window, [training] {
      if (!training->start()) QApplication::exit(1);
    });
  }

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
