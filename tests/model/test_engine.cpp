// The engine end to end on a tiny CPU configuration: the diffusion loss falls, forecasts are
// reproducible and in the data's units, resume continues from the saved step, bad settings are
// refused.
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>
#include <filesystem>

#include "model/engine.h"
#include "model/forecaster.h"
#include "tests/support/check.h"
#include "tests/support/tiny_project.h"

using namespace latentcast;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const char* base = std::getenv("LATENTCAST_TEST_TMP");
  const fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) / "engine" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// The shared tiny configuration, trained long enough to learn something: seconds on a laptop CPU.
ProjectConfig tiny() {
  ProjectConfig c = lctest::tiny_project();
  c.model.dropout = 0.0;
  c.training.vae_steps = 150;
  c.training.steps = 200;
  c.training.learning_rate = 2e-3;
  c.training.warmup_steps = 10;
  c.training.ema_warmup_steps = 20;
  c.training.validate_every = 50;
  c.training.early_stop_patience = 0;
  c.forecasting.samples = 8;
  c.forecasting.steps = 10;
  return c;
}

struct Recorded {
  std::vector<engine::Progress> steps;
  std::vector<std::string> messages;
  engine::Callbacks callbacks() {
    engine::Callbacks cb;
    cb.on_progress = [this](const engine::Progress& p) { steps.push_back(p); };
    cb.on_message = [this](const std::string& m) { messages.push_back(m); };
    return cb;
  }
  double mean_loss(const std::string& stage, std::size_t from, std::size_t count) const {
    std::vector<double> l;
    for (const auto& p : steps)
      if (p.stage == stage) l.push_back(p.loss);
    double s = 0;
    for (std::size_t i = from; i < from + count && i < l.size(); ++i) s += l[i];
    return s / double(count);
  }
};

engine::TrainResult train_tiny(const std::string& dir, Recorded& rec, std::int64_t steps = -1,
                               const std::string& resume = {}, ProjectConfig config = tiny()) {
  engine::TrainRequest r;
  r.config = config;
  r.device = "cpu";
  r.run_dir = dir;
  r.steps = steps;
  r.resume_from = resume;
  return engine::train(r, rec.callbacks());
}

}  // namespace

TEST_CASE("the diffusion loss falls on a tiny config, and a forecast is reproducible") {
  Recorded rec;
  const std::string dir = scratch("falls");
  const auto result = train_tiny(dir, rec);
  EXPECT_EQ(result.run.status, std::string("completed"));
  EXPECT_EQ(result.run.steps, std::int64_t(200));
  EXPECT(fs::exists(result.run.checkpoint_best) && fs::exists(result.run.checkpoint_last));
  const double early = rec.mean_loss("diffusion", 0, 20),
               late = rec.mean_loss("diffusion", 180, 20);
  std::fprintf(stderr, "  diffusion loss: first 20 steps %.4f, last 20 steps %.4f\n", early, late);
  EXPECT(late < 0.7 * early);
  EXPECT(rec.mean_loss("vae", 40, 20) < rec.mean_loss("vae", 0, 10));
  EXPECT(result.vae_recon_mse >= 0);
  for (const auto& m : rec.messages) std::fprintf(stderr, "  engine: %s\n", m.c_str());
  EXPECT(result.best_val_loss > 0);

  engine::ForecastRequest fr;
  fr.config = tiny();
  fr.checkpoint = result.run.checkpoint_best;
  fr.device = "cpu";
  fr.origin = 3000;
  const auto a = engine::forecast(fr, {});
  const auto b = engine::forecast(fr, {});
  REQUIRE(a.median.size() == 16 && a.median[0].size() == 2);
  EXPECT(a.median == b.median && a.q05 == b.q05);
  EXPECT_EQ(a.actual.size(), std::size_t(16));
  for (std::size_t h = 0; h < 16; ++h)
    for (std::size_t c = 0; c < 2; ++c) {
      EXPECT(a.q05[h][c] <= a.q25[h][c] && a.q25[h][c] <= a.median[h][c]);
      EXPECT(a.median[h][c] <= a.q75[h][c] && a.q75[h][c] <= a.q95[h][c]);
    }
  // In the data's units: the demo load lives around 100-180, temperature around 0-40.
  EXPECT(a.median[0][0] > 40 && a.median[0][0] < 260);
  fr.seed = 99;
  EXPECT(engine::forecast(fr, {}).median != a.median);

  engine::EvaluateRequest er;
  er.config = tiny();
  er.checkpoint = result.run.checkpoint_best;
  er.device = "cpu";
  er.max_windows = 16;
  const auto ev = engine::evaluate(er, {});
  REQUIRE(ev.scores.size() == 4);
  EXPECT_EQ(ev.scores[0].model, std::string("latentcast"));
  EXPECT(ev.scores[0].coverage90 >= 0 && ev.scores[0].coverage90 <= 1);
  EXPECT(ev.scores[1].coverage90 < 0);  // a point forecast has no interval
  for (const auto& s : ev.scores) EXPECT(std::isfinite(s.mse) && s.mse > 0);
}

TEST_CASE("resume continues from the saved step with equal weights") {
  Recorded first;
  const std::string dir = scratch("resume");
  ProjectConfig c = tiny();
  c.training.steps = 40;
  const auto r1 = train_tiny(dir + "/a", first, 40, {}, c);
  REQUIRE(r1.run.steps == 40);

  // A resume that trains no further step writes back exactly the weights it loaded.
  Recorded same;
  const auto r0 = train_tiny(dir + "/same", same, 40, r1.run.checkpoint_last, c);
  EXPECT_EQ(r0.run.steps, std::int64_t(40));
  const auto load = [&](const std::string& path) {
    auto f = std::make_unique<Forecaster>(c, Forecaster::read_meta(path), AttentionSettings{},
                                          torch::kCPU);
    f->load(path, nullptr, false);
    return f;
  };
  const auto before = load(r1.run.checkpoint_last), after = load(r0.run.checkpoint_last);
  const auto equal_params = [](torch::nn::Module& a, torch::nn::Module& b) {
    const auto pa = a.parameters(), pb = b.parameters();
    bool same = pa.size() == pb.size() && !pa.empty();
    for (std::size_t i = 0; same && i < pa.size(); ++i) same = torch::equal(pa[i], pb[i]);
    return same;
  };
  EXPECT(equal_params(*before->unet, *after->unet));
  EXPECT(equal_params(*before->ema_unet, *after->ema_unet));
  EXPECT(equal_params(*before->vae, *after->vae));
  EXPECT_NEAR(before->meta().latent_scale, after->meta().latent_scale, 0.0);

  Recorded second;
  c.training.steps = 60;
  const auto r2 = train_tiny(dir + "/b", second, 60, r1.run.checkpoint_last, c);
  REQUIRE(!second.steps.empty());
  EXPECT_EQ(second.steps.front().stage, std::string("diffusion"));  // no second stage 1
  EXPECT_EQ(second.steps.front().step, std::int64_t(41));
  EXPECT_EQ(r2.run.steps, std::int64_t(60));

  // Changed optimizer settings: weights kept, a fresh optimizer, and the user is told.
  Recorded third;
  c.training.learning_rate = 1e-3;
  train_tiny(dir + "/c", third, 50, r1.run.checkpoint_last, c);
  bool told = false;
  for (const auto& m : third.messages)
    told = told || m.find("optimizer starts fresh") != std::string::npos;
  EXPECT(told);
}

TEST_CASE("stop mid-run keeps a checkpoint") {
  Recorded rec;
  std::atomic<bool> stop{false};
  engine::Callbacks cb = rec.callbacks();
  cb.on_progress = [&](const engine::Progress& p) {
    rec.steps.push_back(p);
    if (p.stage == "diffusion" && p.step == 25) stop.store(true);
  };
  cb.stop = &stop;
  engine::TrainRequest r;
  r.config = tiny();
  r.device = "cpu";
  r.run_dir = scratch("stop");
  const auto result = engine::train(r, cb);
  EXPECT_EQ(result.run.status, std::string("stopped"));
  EXPECT_EQ(result.run.steps, std::int64_t(25));
  EXPECT(fs::exists(result.run.checkpoint_last));
}

TEST_CASE("bad settings and devices are refused with clear errors") {
  engine::TrainRequest r;
  r.config = tiny();
  r.run_dir = scratch("bad");
  r.device = "tpu";
  EXPECT_THROWS_WITH(engine::train(r, {}), engine::EngineError, "--device");
  r.device = "cpu";
  r.config.model.image_size = 8;  // too small for the 32-row history folded by a 24-row period
  r.config.model.period = 24;
  EXPECT_THROWS_WITH(engine::train(r, {}), engine::EngineError, "model.image_size");
  r.config = tiny();
#if TORCH_VERSION_MAJOR < 2
  // On the CPU every backend but sdpa runs; sdpa needs LibTorch >= 2.0 (the CUDA refusals are
  // tested in test_attention).
  r.config.memory.attention_backend = AttentionBackend::Sdpa;
  EXPECT_THROWS_WITH(engine::train(r, {}), engine::EngineError,
                     "memory.attention_backend: 'sdpa' is unavailable");
#endif
  engine::ForecastRequest f;
  f.config = tiny();
  f.checkpoint = r.run_dir + "/missing.pt";
  f.device = "cpu";
  EXPECT_THROWS_WITH(engine::forecast(f, {}), engine::EngineError, "checkpoint not found");
}

LCTEST_MAIN
