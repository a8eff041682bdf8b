// latentcast-bench gui: how responsive the window stays while it trains. A 10 ms timer on the GUI
// thread records the gaps between its ticks during a training run of a small demo configuration,
// side by side with the peer: the same run called on the GUI thread, pumping events after every
// step (how an application without a worker thread keeps painting).
#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/bench/bench.h"
#include "app/cli/args.h"
#include "app/project/project.h"
#include "ui/main_window.h"
#include "ui/project_session.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"

namespace latentcast::bench {
namespace {

struct Gaps {
  std::vector<double> ms;
  double seconds = 0;
  double percentile(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1, std::size_t(p * double(s.size())))];
  }
  double longest() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
};

class TickMeter {
 public:
  explicit TickMeter(Gaps* out) : out_(out) {
    timer_.setInterval(10);
    QObject::connect(&timer_, &QTimer::timeout, [this] {
      const double now = double(clock_.nsecsElapsed()) * 1e-6;
      if (last_ >= 0) out_->ms.push_back(now - last_);
      last_ = now;
    });
    clock_.start();
    timer_.start();
  }

 private:
  Gaps* out_;
  QTimer timer_;
  QElapsedTimer clock_;
  double last_ = -1;
};

ProjectConfig small_demo(int steps) {
  ProjectConfig c = project::demo_project();
  c.dataset.columns = {"load", "temperature"};
  c.dataset.lookback = 64;
  c.dataset.horizon = 32;
  c.dataset.stride = 4;
  c.model.image_size = 16;
  c.model.channels = {32, 64};
  c.model.attention_levels = {1};
  c.model.heads = 2;
  c.memory.batch_size = 32;
  c.training.vae_steps = 10;
  c.training.steps = steps;
  c.training.validate_every = std::max(1, steps / 2);
  return c;
}

}  // namespace

int bench_gui(int argc, char** argv) {
  std::vector<std::string> argv_list(argv + 1, argv + argc);
  const cli::Args args(argv_list, {"--steps", "--dir"}, {"--json"});
  const int steps = int(args.integer("--steps", 100, 1, 1000000));
  if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  int qt_argc = 1;
  char name[] = "latentcast-bench";
  char* qt_argv[] = {name, nullptr};
  QApplication app(qt_argc, qt_argv);
  const ProjectConfig config = small_demo(steps);
  const std::string dir = args.value("--dir", "/tmp");

  // Ours: the Training tab's worker thread, the window open and its charts updating.
  Gaps worker;
  {
    ui::MainWindow window;
    window.show();
    window.session()->load_demo();
    window.session()->change([&](ProjectConfig& c) { c = config; });
    window.tabs()->setCurrentWidget(window.training_panel());
    QApplication::processEvents();
    TickMeter meter(&worker);
    QElapsedTimer clock;
    clock.start();
    window.training_panel()->start();
    while (window.training_panel()->controller()->running())
      QApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    worker.seconds = double(clock.nsecsElapsed()) * 1e-9;
    window.session()->save_to(QString::fromStdString(dir + "/latentcast-bench-gui.lcproj"));
  }

  // The peer: the same run on the GUI thread, events pumped after every step.
  Gaps peer;
  {
    TickMeter meter(&peer);
    QElapsedTimer clock;
    clock.start();
    engine::TrainRequest request;
    request.config = config;
    request.run_dir = dir + "/latentcast-bench-gui-peer";
    request.device = "auto";
    engine::Callbacks callbacks;
    callbacks.on_progress = [](const engine::Progress&) { QApplication::processEvents(); };
    engine::train(request, callbacks);
    peer.seconds = double(clock.nsecsElapsed()) * 1e-9;
  }

  if (args.flag("--json")) {
    const auto row = [](const Gaps& g) {
      return nlohmann::json{{"longest_gap_ms", g.longest()},
                            {"p99_gap_ms", g.percentile(0.99)},
                            {"median_gap_ms", g.percentile(0.5)},
                            {"seconds", g.seconds},
                            {"ticks", g.ms.size()}};
    };
    std::printf("%s\n", nlohmann::json{{"steps", steps},
                                       {"worker_thread", row(worker)},
                                       {"gui_thread_peer", row(peer)}}
                            .dump(2)
                            .c_str());
  } else {
    std::printf("GUI-thread timer gaps while training %d denoiser steps (10 ms timer)\n", steps);
    std::printf("%-28s %12s %12s %12s %10s\n", "", "longest ms", "p99 ms", "median ms", "run s");
    for (const auto& [label, g] :
         {std::pair<const char*, const Gaps*>{"worker thread (ours)", &worker},
          {"GUI thread, events per step", &peer}})
      std::printf("%-28s %12.1f %12.1f %12.1f %10.1f\n", label, g->longest(), g->percentile(0.99),
                  g->percentile(0.5), g->seconds);
  }
  return 0;
}

}  // namespace latentcast::bench
