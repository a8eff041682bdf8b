// engine::measure on the CPU: the counting allocator sees at least the weights, gradients and
// optimizer state the run must hold, the stages are announced in order, the temporary run
// directory is removed, and bad requests are refused.
#include <torch/torch.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "model/engine.h"
#include "model/forecaster.h"
#include "tests/support/check.h"
#include "tests/support/tiny_project.h"

using namespace latentcast;

namespace {

// A new empty folder under the test scratch space. POSIX (mkdtemp, readdir) rather than
// std::filesystem: the PyTorch wheels' LibTorch exports a std::filesystem whose remove_all crashes.
std::string fresh_dir() {
  const char* base = std::getenv("LATENTCAST_TEST_TMP");
  std::string name = std::string(base ? base : "/tmp") + "/measure-XXXXXX";
  if (!mkdtemp(name.data())) return {};
  return name;
}

std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
    closedir(d);
  }
  return n;
}

// The tiny configuration of the model tests: seconds for a few steps.
ProjectConfig tiny() {
  ProjectConfig c = lctest::tiny_project();
  c.model.period = 8;
  return c;
}

std::int64_t bytes_of(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel() * std::int64_t(t.element_size());
  return n;
}

}  // namespace

TEST_CASE("measure on the CPU holds at least the weights, gradients and AdamW state") {
  // The run directory goes under TMPDIR: point it at a scratch folder to see it removed.
  const std::string tmp = fresh_dir();
  REQUIRE(!tmp.empty());
  setenv("TMPDIR", tmp.c_str(), 1);
  std::vector<std::string> stages;
  engine::Callbacks cb;
  cb.on_stage = [&](const std::string& s) { stages.push_back(s); };
  engine::MeasureRequest r;
  r.config = tiny();
  r.device = "cpu";
  r.steps = 3;
  const engine::MeasureResult m = engine::measure(r, cb);
  unsetenv("TMPDIR");

  EXPECT_EQ(stages, (std::vector<std::string>{"model", "vae", "diffusion"}));
  EXPECT_EQ(entries(tmp), std::size_t(0));
  rmdir(tmp.c_str());
  EXPECT_EQ(m.device, std::string("cpu"));
  EXPECT(!m.cuda);
  EXPECT_EQ(m.steps, std::int64_t(3));
  EXPECT_EQ(m.context_bytes, std::int64_t(0));
  EXPECT_EQ(m.peak_reserved_bytes, m.peak_allocated_bytes);
  EXPECT_EQ(m.vae_peak_reserved_bytes, m.vae_peak_allocated_bytes);
  EXPECT_EQ(m.diffusion_peak_reserved_bytes, m.diffusion_peak_allocated_bytes);
  EXPECT(m.vae_peak_allocated_bytes <= m.peak_allocated_bytes);
  EXPECT(m.diffusion_peak_allocated_bytes <= m.peak_allocated_bytes);

  // The same model, built here to count its parameters (VAE, UNet, EMA UNet, tokens, EMA tokens).
  ForecasterMeta meta;
  meta.period = 8;
  Forecaster f(r.config, meta, AttentionSettings{}, torch::kCPU);
  std::vector<torch::Tensor> all;
  for (const auto& [name, module] : f.modules())
    for (const auto& p : module->parameters()) all.push_back(p);
  const std::int64_t weights = bytes_of(all);
  const std::int64_t denoiser = bytes_of(f.denoiser_parameters());
  const std::int64_t vae = bytes_of(f.vae->parameters());
  std::fprintf(stderr,
               "  weights %lld B (denoiser %lld, vae %lld); peaks: vae %lld, diffusion %lld, all "
               "%lld\n",
               static_cast<long long>(weights), static_cast<long long>(denoiser),
               static_cast<long long>(vae), static_cast<long long>(m.vae_peak_allocated_bytes),
               static_cast<long long>(m.diffusion_peak_allocated_bytes),
               static_cast<long long>(m.peak_allocated_bytes));
  REQUIRE(weights > 0 && denoiser > 0 && vae > 0);
  EXPECT(m.peak_allocated_bytes >= weights);
  // Every weight is live in both stages; the stage's trained part also has its gradients and
  // AdamW's two moments.
  EXPECT(m.vae_peak_allocated_bytes >= weights + 3 * vae);
  EXPECT(m.diffusion_peak_allocated_bytes >= weights + 3 * denoiser);
  // A tiny model on a small dataset: tens of MiB at most, not the process's other allocations.
  EXPECT(m.peak_allocated_bytes < std::int64_t(256) << 20);
}

TEST_CASE("measure refuses bad steps and devices") {
  engine::MeasureRequest r;
  r.config = tiny();
  r.device = "cpu";
  r.steps = 0;
  EXPECT_THROWS_WITH(engine::measure(r, {}), engine::EngineError, "--steps");
  r.steps = -2;
  EXPECT_THROWS_WITH(engine::measure(r, {}), engine::EngineError, "--steps");
  r.steps = 1;
  r.device = "tpu";
  EXPECT_THROWS_WITH(engine::measure(r, {}), engine::EngineError, "--device");
}

LCTEST_MAIN
