// Tests of the project document library (app/project): defaults, round trips, relative paths,
// refusal of broken files, atomic saving, messages, --set overrides, the demo project and the field
// listing.
#include "app/project/project.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "model/data/demo_series.h"
#include "tests/support/check.h"

namespace {

namespace fs = std::filesystem;
using namespace latentcast;
using namespace latentcast::project;

// A fresh, empty folder for one case, under LATENTCAST_TEST_TMP when set.
std::string scratch(const std::string& name) {
  static const fs::path root = [] {
    if (const char* env = std::getenv("LATENTCAST_TEST_TMP"); env && *env)
      return fs::absolute(fs::path(env) / "test_project");
    char pattern[] = "/tmp/latentcast-test-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    return fs::path(pattern);
  }();
  const fs::path dir = root / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write test file " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// what() of the ProjectError that `f` throws, or a marker when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ProjectError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string parse_error(const std::string& text) {
  return error_of([&] { from_json_text(text, "bad.lcproj", "/base"); });
}

std::string override_error(const std::string& assignment) {
  ProjectConfig config;
  return error_of([&] { apply_override(config, assignment); });
}

nlohmann::json json_at(const nlohmann::json& doc, const std::string& dotted) {
  std::string pointer = "/" + dotted;
  for (auto& ch : pointer)
    if (ch == '.') ch = '/';
  return doc.at(nlohmann::json::json_pointer(pointer));
}

// Every field different from its default, so that a field lost on the way shows up.
ProjectConfig full_config(const std::string& dir) {
  ProjectConfig c;
  c.name = "full project";
  c.dataset.path = dir + "/data/series.csv";
  c.dataset.columns = {"a", "b", "c"};
  c.dataset.target_columns = {"c", "b"};
  c.dataset.date_column = "ts";
  c.dataset.missing = MissingPolicy::FillForward;
  c.dataset.split = {SplitMode::Ett, 0.6, 0.2};
  c.dataset.lookback = 48;
  c.dataset.horizon = 12;
  c.dataset.stride = 3;
  c.model.image_size = 128;
  c.model.latent_factor = 8;
  c.model.latent_channels = 8;
  c.model.channels = {32, 64};
  c.model.attention_levels = {0};
  c.model.heads = 2;
  c.model.dropout = 0.25;
  c.model.conditioning = Conditioning::Both;
  c.model.prediction = Prediction::V;
  c.model.noise_schedule = NoiseSchedule::Linear;
  c.model.diffusion_steps = 500;
  c.model.period = 24;
  c.memory.attention_backend = AttentionBackend::LocalWindow;
  c.memory.gradient_checkpointing = CheckpointMode::All;
  c.memory.precision = Precision::Bf16;
  c.memory.batch_size = 8;
  c.memory.latent_caching = false;
  c.memory.slice_size = 512;
  c.memory.window_size = 16;
  c.memory.window_overlap = 4;
  c.training.vae_steps = 100;
  c.training.steps = 0;
  c.training.epochs = 3;
  c.training.learning_rate = 1e-3;
  c.training.weight_decay = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  c.training.warmup_steps = 10;
  c.training.ema_decay = 0.99;
  c.training.ema_warmup_steps = 5;
  c.training.grad_clip = 0.5;
  c.training.early_stop_patience = 3;
  c.training.validate_every = 50;
  c.training.seed = std::numeric_limits<std::uint64_t>::max();
  c.forecasting.samples = 8;
  c.forecasting.sampler = Sampler::Ddpm;
  c.forecasting.steps = 20;
  c.forecasting.eta = 0.5;
  c.forecasting.seed = 7;

  RunRecord first;
  first.id = "run-20261122-101500";
  first.started = "2026-11-22T10:15:00";
  first.finished = "2026-11-22T11:00:00";
  first.device = "cuda:0 (NVIDIA H100)";
  first.status = "completed";
  first.steps = 1000;
  first.checkpoint_best = dir + "/checkpoints/best.pt";
  first.checkpoint_last = dir + "/checkpoints/last.pt";
  first.peak_allocated_bytes = 5'000'000'000;
  first.peak_reserved_bytes = 6'000'000'000;
  first.metrics = {{"val_loss", 0.125}, {"crps", 0.5}, {"mse", 1.0 / 3.0}};  // not sorted
  RunRecord second;
  second.id = "run-2";
  second.status = "out_of_memory";
  c.runs = {first, second};
  return c;
}

// Equal as documents (which covers every field) and, directly, on fields of each kind.
void check_same(const ProjectConfig& a, const ProjectConfig& b, const std::string& base) {
  EXPECT_EQ(to_json_text(a, base), to_json_text(b, base));
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dataset.path, b.dataset.path);
  EXPECT(a.dataset.target_columns == b.dataset.target_columns);
  EXPECT(a.dataset.missing == b.dataset.missing);
  EXPECT(a.dataset.split.mode == b.dataset.split.mode);
  EXPECT_EQ(a.dataset.split.val, b.dataset.split.val);
  EXPECT_EQ(a.model.image_size, b.model.image_size);
  EXPECT(a.model.channels == b.model.channels);
  EXPECT(a.model.attention_levels == b.model.attention_levels);
  EXPECT(a.memory.attention_backend == b.memory.attention_backend);
  EXPECT(a.memory.precision == b.memory.precision);
  EXPECT_EQ(a.memory.batch_size, b.memory.batch_size);
  EXPECT_EQ(a.memory.latent_caching, b.memory.latent_caching);
  EXPECT_EQ(a.training.weight_decay, b.training.weight_decay);  // exact, not near
  EXPECT_EQ(a.training.seed, b.training.seed);
  EXPECT(a.forecasting.sampler == b.forecasting.sampler);
  REQUIRE(a.runs.size() == b.runs.size());
  for (std::size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].id, b.runs[i].id);
    EXPECT_EQ(a.runs[i].checkpoint_best, b.runs[i].checkpoint_best);
    EXPECT_EQ(a.runs[i].peak_reserved_bytes, b.runs[i].peak_reserved_bytes);
    EXPECT(a.runs[i].metrics == b.runs[i].metrics);
  }
}

TEST_CASE("defaults: a minimal document gets every struct default") {
  const ProjectConfig loaded = from_json_text(R"({"schema_version": 1})", "min.lcproj", "/base");
  const ProjectConfig defaults;
  check_same(loaded, defaults, "/base");
  EXPECT_EQ(loaded.name, std::string("untitled"));
  EXPECT_EQ(loaded.memory.batch_size, 32);
  EXPECT(loaded.memory.attention_backend == AttentionBackend::Auto);
  EXPECT(loaded.model.channels == std::vector<int>({64, 128, 256}));
  EXPECT_EQ(loaded.training.seed, std::uint64_t{42});
  EXPECT(loaded.dataset.path.empty());
  EXPECT(loaded.runs.empty());

  // A partly filled section keeps the defaults of the keys it leaves out.
  const ProjectConfig partial = from_json_text(
      R"({"schema_version": 1, "memory": {"batch_size": 4}, "dataset": {"split": {"val": 0.2}}})",
      "partial.lcproj", "/base");
  EXPECT_EQ(partial.memory.batch_size, 4);
  EXPECT(partial.memory.precision == Precision::Fp32);
  EXPECT_EQ(partial.dataset.split.val, 0.2);
  EXPECT_EQ(partial.dataset.split.train, 0.7);
}

TEST_CASE("round trip: every field set to a non-default value survives save and load") {
  const std::string dir = scratch("round_trip");
  const ProjectConfig full = full_config(dir);
  validate(full);

  // The fixture must really change every listed field, or the round trip proves less than it seems.
  const auto changed = nlohmann::json::parse(to_json_text(full, dir));
  const auto plain = nlohmann::json::parse(to_json_text(ProjectConfig{}, dir));
  for (const auto& field : fields()) {
    const bool same = json_at(changed, field.path) == json_at(plain, field.path);
    EXPECT_EQ(field.path + (same ? " left at its default" : ""), field.path);
  }

  const std::string path = dir + "/full.lcproj";
  save(full, path);
  const ProjectConfig loaded = load(path);
  check_same(loaded, full, dir);
  EXPECT_EQ(loaded.runs[0].metrics[0].first, std::string("val_loss"));
  EXPECT_EQ(loaded.runs[0].metrics[2].second, 1.0 / 3.0);
  EXPECT_EQ(loaded.runs[0].peak_allocated_bytes, std::int64_t{5'000'000'000});
  // Saving what was loaded reproduces the file byte for byte.
  const std::string again = dir + "/again.lcproj";
  save(loaded, again);
  EXPECT_EQ(read_text(again), read_text(path));
}

TEST_CASE("runs: metric order and non-finite values survive") {
  ProjectConfig c;
  RunRecord run;
  run.id = "r";
  run.metrics = {{"z", 1.0}, {"a", std::nan("")}, {"m", 2.5}};
  c.runs = {run};
  const ProjectConfig back = from_json_text(to_json_text(c, ""), "r.lcproj", "");
  REQUIRE(back.runs.size() == 1);
  REQUIRE(back.runs[0].metrics.size() == 3);
  EXPECT_EQ(back.runs[0].metrics[0].first, std::string("z"));
  EXPECT_EQ(back.runs[0].metrics[1].first, std::string("a"));
  EXPECT(std::isnan(back.runs[0].metrics[1].second));
  EXPECT_EQ(back.runs[0].metrics[2].second, 2.5);

  c.runs[0].metrics.push_back({"z", 3.0});
  EXPECT_EQ(error_of([&] { validate(c); }), std::string("runs[0].metrics: duplicate metric \"z\""));
  c.runs[0].metrics.pop_back();
  c.runs[0].steps = -1;
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("runs[0].steps: must be an integer >= 0, got -1"));
}

TEST_CASE("run curves: survive a round trip with NaN as null; ragged or bad curves are refused") {
  ProjectConfig c;
  RunRecord run;
  run.id = "run-1";
  run.status = "completed";
  run.curves = {{"step", {1, 2, 3}}, {"loss", {0.5, std::nan(""), 0.25}}};
  c.runs = {run};
  const std::string text = to_json_text(c, "");
  EXPECT(text.find("\"curves\"") != std::string::npos);
  const ProjectConfig back = from_json_text(text, "c.lcproj", "");
  REQUIRE(back.runs.size() == 1);
  REQUIRE(back.runs[0].curves.size() == 2);
  EXPECT_EQ(back.runs[0].curves[0].first, std::string("step"));
  EXPECT_EQ(back.runs[0].curves[0].second[2], 3.0);
  EXPECT(std::isnan(back.runs[0].curves[1].second[1]));
  EXPECT_EQ(back.runs[0].curves[1].second[2], 0.25);

  c.runs[0].curves[1].second.pop_back();
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("runs[0].curves.loss: has 2 values where \"step\" has 3"));
  const std::string bad =
      R"({"schema_version": 1, "runs": [{"id": "r", "curves": {"loss": [1, "x"]}}]})";
  EXPECT(error_of([&] {
           from_json_text(bad, "c.lcproj", "");
         }).find("runs[0].curves.loss[1]: must be a number") != std::string::npos);
}

TEST_CASE("calibrations: every field survives; bad entries are refused naming the field") {
  ProjectConfig c;
  Calibration cal;
  cal.device = "cuda:0 (NVIDIA H200)";
  cal.measured = "2026-12-02T17:00:00";
  cal.steps = 2;
  cal.measured_allocated_bytes = 1000;
  cal.measured_reserved_bytes = 2000;
  cal.context_bytes = 800;
  cal.predicted_allocated_bytes = 990;
  cal.predicted_reserved_bytes = 2100;
  cal.allocator = "expandable";
  c.calibrations = {cal};
  const ProjectConfig back = from_json_text(to_json_text(c, ""), "c.lcproj", "");
  REQUIRE(back.calibrations.size() == 1);
  const Calibration& b = back.calibrations[0];
  EXPECT_EQ(b.device, cal.device);
  EXPECT_EQ(b.measured, cal.measured);
  EXPECT_EQ(b.measured_reserved_bytes, std::int64_t(2000));
  EXPECT_EQ(b.predicted_reserved_bytes, std::int64_t(2100));
  EXPECT_EQ(b.context_bytes, std::int64_t(800));
  EXPECT_EQ(b.allocator, std::string("expandable"));
  c.calibrations[0].context_bytes = -5;
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("calibrations[0].context_bytes: must be an integer >= 0, got -5"));
  const std::string text = R"({"schema_version": 1, "calibrations": [{"device": 3}]})";
  EXPECT(error_of([&] {
           from_json_text(text, "c.lcproj", "");
         }).find("calibrations[0].device: must be a string") != std::string::npos);
  const std::string typo = R"({"schema_version": 1, "calibrations": [{"measured_bytes": 3}]})";
  EXPECT(error_of([&] {
           from_json_text(typo, "c.lcproj", "");
         }).find("calibrations[0].measured_bytes: unknown field") != std::string::npos);
}

TEST_CASE(
    "paths: stored relative below or beside the project, absolute elsewhere, resolved on load") {
  const std::string root = scratch("paths");
  const std::string project_dir = root + "/proj";
  fs::create_directories(project_dir);
  const std::string path = project_dir + "/p.lcproj";

  ProjectConfig c;
  c.dataset.path = project_dir + "/data/x.csv";
  RunRecord run;
  run.checkpoint_best = root + "/ckpt/best.pt";  // beside the project folder
  run.checkpoint_last = "/opt/elsewhere/last.pt";
  c.runs = {run};
  save(c, path);

  const auto raw = nlohmann::json::parse(read_text(path));
  EXPECT_EQ(raw["dataset"]["path"].get<std::string>(), std::string("data/x.csv"));
  EXPECT_EQ(raw["runs"][0]["checkpoint_best"].get<std::string>(), std::string("../ckpt/best.pt"));
  EXPECT_EQ(raw["runs"][0]["checkpoint_last"].get<std::string>(),
            std::string("/opt/elsewhere/last.pt"));

  const ProjectConfig loaded = load(path);
  EXPECT_EQ(loaded.dataset.path, project_dir + "/data/x.csv");
  EXPECT_EQ(loaded.runs[0].checkpoint_best, root + "/ckpt/best.pt");
  EXPECT_EQ(loaded.runs[0].checkpoint_last, std::string("/opt/elsewhere/last.pt"));

  // A hand-written relative path is normalised; the demo dataset and empty paths are never touched.
  write_text(path, R"({"schema_version": 1, "dataset": {"path": "./sub/../data/y.csv"},
                       "runs": [{"checkpoint_best": "", "checkpoint_last": "last.pt"}]})");
  const ProjectConfig hand = load(path);
  EXPECT_EQ(hand.dataset.path, project_dir + "/data/y.csv");
  EXPECT_EQ(hand.runs[0].checkpoint_best, std::string());
  EXPECT_EQ(hand.runs[0].checkpoint_last, project_dir + "/last.pt");

  ProjectConfig demo;
  demo.dataset.path = data::kDemoDatasetPath;
  demo.runs = {RunRecord{}};
  save(demo, path);
  const auto demo_raw = nlohmann::json::parse(read_text(path));
  EXPECT_EQ(demo_raw["dataset"]["path"].get<std::string>(), std::string("builtin:demo"));
  EXPECT_EQ(demo_raw["runs"][0]["checkpoint_best"].get<std::string>(), std::string());
  EXPECT_EQ(load(path).dataset.path, std::string("builtin:demo"));
}

TEST_CASE(
    "broken files: garbage, truncated, empty and missing files are refused and left as they are") {
  const std::string dir = scratch("broken");
  const std::string good = dir + "/good.lcproj";
  save(full_config(dir), good);
  const std::string text = read_text(good);

  struct Broken {
    std::string name, bytes, message;
  };
  const Broken cases[] = {
      {"garbage.lcproj", "PK\x03\x04 this is not json",
       "not a valid project file: line 1, column 1: "},
      {"truncated.lcproj", text.substr(0, text.size() / 2), "not a valid project file: line "},
      {"empty.lcproj", "", "file is empty"},
      {"blank.lcproj", "  \n\n", "file is empty"},
      {"array.lcproj", "[1, 2]", "not a valid project file: expected a JSON object, got array"},
  };
  for (const auto& broken : cases) {
    const std::string path = dir + "/" + broken.name;
    write_text(path, broken.bytes);
    const std::string message = error_of([&] { load(path); });
    EXPECT_EQ(message.rfind(path + ": " + broken.message, 0), std::size_t{0});
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT(read_text(path) == broken.bytes);
  }
  EXPECT_EQ(error_of([&] { load(dir + "/absent.lcproj"); }),
            dir + "/absent.lcproj: cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] { load(dir); }), dir + ": cannot read: Is a directory");
}

TEST_CASE(
    "save: a failed save throws and leaves the previous file intact, with no temporary left") {
  const std::string dir = scratch("save_fail");
  const ProjectConfig config = full_config(dir);

  // The folder cannot hold files: its "parent" is a regular file (works as root too).
  const std::string blocker = dir + "/blocker";
  write_text(blocker, "not a folder");
  EXPECT_EQ(error_of([&] { save(config, blocker + "/p.lcproj"); }),
            blocker + "/p.lcproj: cannot write: Not a directory");
  EXPECT_EQ(read_text(blocker), std::string("not a folder"));

  // The target is a folder: the rename fails after the temporary was written; it must be removed.
  const std::string folder = dir + "/taken.lcproj";
  fs::create_directories(folder + "/inside");
  EXPECT_THROWS_WITH(save(config, folder), ProjectError, "taken.lcproj: cannot replace: ");
  EXPECT(fs::is_directory(folder + "/inside"));

  // An invalid configuration is refused before anything is written.
  const std::string path = dir + "/p.lcproj";
  save(config, path);
  const std::string before = read_text(path);
  ProjectConfig bad = config;
  bad.memory.batch_size = 0;
  EXPECT_EQ(error_of([&] { save(bad, path); }),
            path + ": memory.batch_size: must be an integer >= 1 and <= 65536, got 0");
  EXPECT(read_text(path) == before);

  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path().filename().string());
  std::sort(entries.begin(), entries.end());
  EXPECT(entries == std::vector<std::string>({"blocker", "p.lcproj", "taken.lcproj"}));
}

TEST_CASE("save: replaces the file, keeps its permissions and leaves no temporary") {
  const std::string dir = scratch("save_replace");
  const std::string path = dir + "/p.lcproj";
  ProjectConfig config;
  save(config, path);
  ::chmod(path.c_str(), 0600);
  config.memory.batch_size = 7;
  save(config, path);
  EXPECT_EQ(load(path).memory.batch_size, 7);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.exists();
  EXPECT_EQ(entries, 1);
  const std::string text = read_text(path);
  EXPECT(text.rfind("{\n  \"schema_version\": 1,\n  \"name\": ", 0) == 0);  // 2-space indentation
}

TEST_CASE("messages: a bad field names its path, the rule and the offending value") {
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "memory": {"batch_size": "four"}})"),
      std::string(
          R"(bad.lcproj: memory.batch_size: must be an integer >= 1 and <= 65536, got "four")"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "model": {"image_size": 30}})"),
      std::string(
          "bad.lcproj: model.image_size: must be divisible by model.latent_factor (4), got 30"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "model": {"image_size": 24}})"),
      std::string(
          "bad.lcproj: model.image_size: the latent side image_size / latent_factor = 24 / 4 "
          "= 6 must be divisible by 2^2 so that the 3 levels of model.channels can halve it"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "memory": {"attention_backend": "flashy"}})"),
      std::string(R"(bad.lcproj: memory.attention_backend: must be one of )"
                  R"(math|sliced|flash|sage|linear|channel|local_window|sdpa|auto, got "flashy")"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "model": {"imagesize": 64}})"),
      std::string("bad.lcproj: model.imagesize: unknown field (did you mean model.image_size?)"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "modle": {}})"),
            std::string("bad.lcproj: modle: unknown field (did you mean model?)"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "dataset": {"split": {"trian": 0.5}}})"),
      std::string(
          "bad.lcproj: dataset.split.trian: unknown field (did you mean dataset.split.train?)"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "training": {"zzzzzzzz": 1}})"),
            std::string("bad.lcproj: training.zzzzzzzz: unknown field"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 3, "future": {"x": 1}})"),
      std::string("bad.lcproj: schema_version: written by a newer Latentcast (schema_version 3, "
                  "this version reads 1)"));
  EXPECT_EQ(
      parse_error(R"({"name": "x"})"),
      std::string("bad.lcproj: schema_version: missing (is this a Latentcast project file?)"));
  EXPECT_EQ(parse_error(R"({"schema_version": 0})"),
            std::string("bad.lcproj: schema_version: must be an integer >= 1, got 0"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "model": {"attention_levels": [0, 5]}})"),
      std::string("bad.lcproj: model.attention_levels: level 5 is out of range: model.channels has "
                  "3 levels (0..2)"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "model": {"attention_levels": [1, 1]}})"),
      std::string("bad.lcproj: model.attention_levels: must be a list of unique integers >= 0, "
                  "got [1,1]"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "model": {"heads": 3}})"),
            std::string("bad.lcproj: model.heads: must divide the channel count of every attention "
                        "level, but level 1 has 128 channels and heads is 3"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "model": {"channels": []}})"),
            std::string("bad.lcproj: model.channels: must be a non-empty list of integers >= 1 and "
                        "<= 65536, got []"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "model": {"dropout": 1}})"),
            std::string("bad.lcproj: model.dropout: must be a number with 0 <= x < 1, got 1"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "model": {"latent_factor": 3}})"),
            std::string("bad.lcproj: model.latent_factor: must be one of 1, 2, 4, 8, got 3"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "memory": {"latent_caching": "yes"}})"),
            std::string(R"(bad.lcproj: memory.latent_caching: must be true or false, got "yes")"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "memory": {"window_overlap": 8}})"),
      std::string("bad.lcproj: memory.window_overlap: must be < memory.window_size (8), got 8"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "dataset": {"split": {"train": 0.8, "val": 0.2}}})"),
      std::string("bad.lcproj: dataset.split.val: dataset.split.train + dataset.split.val must be "
                  "< 1 (the rest is the test set), got 0.8 + 0.2"));
  EXPECT_EQ(
      parse_error(
          R"({"schema_version": 1, "dataset": {"columns": ["a"], "target_columns": ["b"]}})"),
      std::string(R"(bad.lcproj: dataset.target_columns: "b" is not one of dataset.columns)"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "memory": 4})"),
            std::string("bad.lcproj: memory: must be an object, got 4"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "runs": [{"id": "a", "stpes": 3}]})"),
            std::string("bad.lcproj: runs[0].stpes: unknown field (did you mean runs[0].steps?)"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "runs": [{"metrics": {"loss": "low"}}]})"),
            std::string(R"(bad.lcproj: runs[0].metrics.loss: must be a number, got "low")"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "runs": [{"id": 5}]})"),
            std::string("bad.lcproj: runs[0].id: must be a string, got 5"));
}

TEST_CASE("integers: fractions, negatives and huge values are refused without overflow") {
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "memory": {"batch_size": 1e30}})"),
            std::string(
                "bad.lcproj: memory.batch_size: must be an integer >= 1 and <= 65536, got 1e+30"));
  EXPECT_EQ(
      parse_error(R"({"schema_version": 1, "memory": {"batch_size": 8.5}})"),
      std::string("bad.lcproj: memory.batch_size: must be an integer >= 1 and <= 65536, got 8.5"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "dataset": {"lookback": 3000000000}})"),
            std::string("bad.lcproj: dataset.lookback: must be an integer >= 1, got 3000000000"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "training": {"seed": -1}})"),
            std::string("bad.lcproj: training.seed: must be an integer >= 0, got -1"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "training": {"seed": 18446744073709551616}})"),
            std::string(
                "bad.lcproj: training.seed: must be an integer >= 0, got 1.8446744073709552e+19"));
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "runs": [{"steps": 1e300}]})"),
            std::string("bad.lcproj: runs[0].steps: must be an integer >= 0, got 1e+300"));
  EXPECT_EQ(parse_error(R"({"schema_version": 99999999999999999999})").find("newer"),
            std::string::npos);

  const ProjectConfig ok = from_json_text(R"({"schema_version": 1, "memory": {"batch_size": 8.0},)"
                                          R"( "training": {"seed": 18446744073709551615}})",
                                          "ok.lcproj", "");
  EXPECT_EQ(ok.memory.batch_size, 8);
  EXPECT_EQ(ok.training.seed, std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("apply_override: each kind parses, and bad values are refused naming the key") {
  ProjectConfig c;
  apply_override(c, "memory.batch_size=8");
  EXPECT_EQ(c.memory.batch_size, 8);
  apply_override(c, "training.learning_rate=1e-3");
  EXPECT_EQ(c.training.learning_rate, 1e-3);
  apply_override(c, "training.weight_decay=0");
  EXPECT_EQ(c.training.weight_decay, 0.0);
  for (const char* spelling : {"false", "0", "no", "off", "OFF"}) {
    c.memory.latent_caching = true;
    apply_override(c, std::string("memory.latent_caching=") + spelling);
    EXPECT_EQ(c.memory.latent_caching, false);
  }
  for (const char* spelling : {"true", "1", "yes", "on"}) {
    c.memory.latent_caching = false;
    apply_override(c, std::string("memory.latent_caching=") + spelling);
    EXPECT_EQ(c.memory.latent_caching, true);
  }
  apply_override(c, "name=My project = v2");
  EXPECT_EQ(c.name, std::string("My project = v2"));
  apply_override(c, "memory.attention_backend=local_window");
  EXPECT(c.memory.attention_backend == AttentionBackend::LocalWindow);
  apply_override(c, "model.channels=32,64,128");
  EXPECT(c.model.channels == std::vector<int>({32, 64, 128}));
  apply_override(c, "model.attention_levels=");
  EXPECT(c.model.attention_levels.empty());
  apply_override(c, "model.channels=[16, 32]");
  EXPECT(c.model.channels == std::vector<int>({16, 32}));
  apply_override(c, "model.attention_levels=[1]");
  EXPECT(c.model.attention_levels == std::vector<int>({1}));
  apply_override(c, "dataset.columns=load, price");
  EXPECT(c.dataset.columns == std::vector<std::string>({"load", "price"}));
  apply_override(c, R"(dataset.target_columns=["price"])");
  EXPECT(c.dataset.target_columns == std::vector<std::string>({"price"}));
  apply_override(c, "training.seed=18446744073709551615");
  EXPECT_EQ(c.training.seed, std::numeric_limits<std::uint64_t>::max());
  apply_override(c, "dataset.path=data/../series.csv");
  EXPECT_EQ(c.dataset.path, (fs::current_path() / "series.csv").string());
  apply_override(c, "dataset.path=builtin:demo");
  EXPECT_EQ(c.dataset.path, std::string("builtin:demo"));

  EXPECT_EQ(
      override_error("memory.batch_size=four"),
      std::string(R"(--set memory.batch_size: must be an integer >= 1 and <= 65536, got "four")"));
  EXPECT_EQ(
      override_error("memory.batch_size=8.5"),
      std::string(R"(--set memory.batch_size: must be an integer >= 1 and <= 65536, got "8.5")"));
  EXPECT_EQ(override_error("memory.batch_size=99999999999999999999"),
            std::string("--set memory.batch_size: must be an integer >= 1 and <= 65536, got "
                        "\"99999999999999999999\""));
  EXPECT_EQ(
      override_error("memory.batch_size"),
      std::string(R"(--set memory.batch_size: expected key=value (e.g. memory.batch_size=8), )"
                  R"(got "memory.batch_size")"));
  EXPECT_EQ(override_error("memory.batchsize=8"),
            std::string("--set memory.batchsize: unknown field (did you mean memory.batch_size?)"));
  EXPECT_EQ(override_error("batch_size=8"),
            std::string("--set batch_size: unknown field (did you mean memory.batch_size?)"));
  EXPECT_EQ(
      override_error("seed=1"),
      std::string("--set seed: unknown field (did you mean training.seed or forecasting.seed?)"));
  EXPECT_EQ(
      override_error("training.learning_rate=fast"),
      std::string(R"(--set training.learning_rate: must be a number with 0 < x <= 1, got "fast")"));
  EXPECT_EQ(
      override_error("training.learning_rate=inf"),
      std::string(R"(--set training.learning_rate: must be a number with 0 < x <= 1, got "inf")"));
  EXPECT_EQ(override_error("memory.latent_caching=maybe"),
            std::string(R"(--set memory.latent_caching: must be true or false, got "maybe")"));
  EXPECT_EQ(override_error("memory.precision=fp8"),
            std::string(R"(--set memory.precision: must be one of fp32|bf16|fp16, got "fp8")"));
  EXPECT_EQ(
      override_error("model.channels=32,x"),
      std::string("--set model.channels: must be a non-empty list of integers >= 1 and <= 65536, "
                  "got \"32,x\""));
  EXPECT_EQ(override_error("dataset.columns=a,,b"),
            std::string("--set dataset.columns: must be a list of unique non-empty strings, "
                        R"(got ["a","","b"])"));
  EXPECT_EQ(override_error("runs=[]"), std::string("--set runs: unknown field"));

  // Values that break a relation are refused after all keys are in, and leave the configuration as
  // it was.
  ProjectConfig kept;
  EXPECT_EQ(
      error_of([&] {
        apply_overrides(kept, {"memory.batch_size=4", "model.image_size=66"});
      }),
      std::string("--set model.image_size: must be divisible by model.latent_factor (4), got 66"));
  EXPECT_EQ(kept.model.image_size, 64);
  EXPECT_EQ(kept.memory.batch_size, 32);
}

TEST_CASE("heads must divide the last level, where the UNet's middle block attends") {
  ProjectConfig c;
  c.model.channels = {32, 48};
  c.model.attention_levels = {0};
  c.model.heads = 32;
  EXPECT_THROWS_WITH(validate(c), ProjectError,
                     "model.heads: must divide the channel count of the last level");
  c.model.heads = 16;
  validate(c);
}

TEST_CASE("apply_overrides: the order of the flags does not matter") {
  // Two levels with attention at level 1 only: valid together, invalid one at a time in this order.
  ProjectConfig c;
  apply_overrides(c, {"model.channels=16,32", "model.attention_levels=1"});
  EXPECT_EQ(c.model.channels.size(), std::size_t(2));
  EXPECT_EQ(c.model.attention_levels, std::vector<int>{1});
  ProjectConfig d;
  EXPECT_THROWS_WITH(apply_overrides(d, {"model.channels=16,32"}), ProjectError,
                     "model.attention_levels: level 2 is out of range");
}

TEST_CASE("validate: checks in-memory edits and names the field without a file") {
  ProjectConfig c;
  validate(c);
  c.model.attention_levels = {3};
  EXPECT_EQ(
      error_of([&] { validate(c); }),
      std::string(
          "model.attention_levels: level 3 is out of range: model.channels has 3 levels (0..2)"));
  c = ProjectConfig{};
  c.model.dropout = std::nan("");
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("model.dropout: must be a number with 0 <= x < 1, got null"));
  c = ProjectConfig{};
  c.training.steps = 0;
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("training.epochs: must be >= 1 when training.steps is 0, got 0"));
  c = ProjectConfig{};
  c.forecasting.steps = 2000;
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string("forecasting.steps: must be <= model.diffusion_steps (1000), got 2000"));
  c = ProjectConfig{};
  c.name.clear();
  EXPECT_EQ(error_of([&] { validate(c); }),
            std::string(R"(name: must be a non-empty string, got "")"));
  try {
    c = ProjectConfig{};
    c.memory.window_overlap = 9;
    validate(c);
    EXPECT(!"validate accepted window_overlap > window_size");
  } catch (const ProjectError& e) {
    EXPECT_EQ(e.field(), std::string("memory.window_overlap"));
    EXPECT_EQ(e.file(), std::string());
  }
}

TEST_CASE("demo_project: loads with the built-in dataset") {
  const ProjectConfig demo = demo_project();
  EXPECT_EQ(demo.dataset.path, std::string(data::kDemoDatasetPath));
  EXPECT_EQ(demo.name, std::string("Demo: synthetic hourly series"));
  EXPECT(demo.dataset.columns ==
         std::vector<std::string>({"load", "temperature", "price", "wind"}));
  EXPECT(demo.model.channels == std::vector<int>({32, 64}));
  EXPECT_EQ(demo.memory.batch_size, 16);
  EXPECT_EQ(demo.forecasting.steps, 25);
  EXPECT_EQ(demo.training.epochs, 0);  // not in the file: the default
  const std::string dir = scratch("demo");
  save(demo, dir + "/demo.lcproj");
  check_same(load(dir + "/demo.lcproj"), demo, dir);
}

TEST_CASE("make_default: the project for a CSV") {
  const std::string dir = scratch("make_default");
  const ProjectConfig c =
      make_default(dir + "/sub/../sales.csv", {"units", "price"}, {"units"}, "day");
  EXPECT_EQ(c.name, std::string("sales"));
  EXPECT_EQ(c.dataset.path, dir + "/sales.csv");
  EXPECT(c.dataset.columns == std::vector<std::string>({"units", "price"}));
  EXPECT(c.dataset.target_columns == std::vector<std::string>({"units"}));
  EXPECT_EQ(c.dataset.date_column, std::string("day"));
  EXPECT_EQ(c.memory.batch_size, ProjectConfig{}.memory.batch_size);
  validate(c);
  EXPECT(make_default(dir + "/x.csv", {"a"}, {}, "").dataset.target_columns.empty());
}

TEST_CASE("fields: lists every setting with kind, rule and a default that can be set back") {
  const auto& list = fields();
  const auto find = [&](const std::string& path) -> const FieldInfo* {
    for (const auto& f : list)
      if (f.path == path) return &f;
    return nullptr;
  };
  for (const char* contract : {"memory.attention_backend", "memory.gradient_checkpointing",
                               "memory.precision", "memory.batch_size", "model.image_size"})
    EXPECT_EQ(std::string(find(contract) ? contract : "missing"), std::string(contract));
  EXPECT_EQ(list.size(), std::size_t{49});
  EXPECT(find("runs") == nullptr);
  EXPECT(find("schema_version") == nullptr);
  EXPECT(find("dataset.missing") == nullptr);
  REQUIRE(find("dataset.missing_policy") != nullptr);
  REQUIRE(find("memory.batch_size") != nullptr);
  EXPECT_EQ(find("memory.batch_size")->kind, std::string("integer"));
  EXPECT_EQ(find("memory.batch_size")->allowed, std::string(">= 1 and <= 65536"));
  EXPECT_EQ(find("memory.batch_size")->default_value, std::string("32"));
  EXPECT_EQ(find("memory.attention_backend")->kind, std::string("enum"));
  EXPECT_EQ(find("memory.attention_backend")->default_value, std::string("\"auto\""));
  EXPECT_EQ(find("model.dropout")->allowed, std::string("0 <= x < 1"));
  EXPECT_EQ(find("model.channels")->kind, std::string("integer list"));
  EXPECT_EQ(find("dataset.columns")->kind, std::string("string list"));

  // Every default, given back through --set, is accepted and changes nothing.
  for (const auto& f : list) {
    // On the command line a text value is written bare, not as its JSON literal.
    const auto value = nlohmann::json::parse(f.default_value);
    const std::string text = value.is_string() ? value.get<std::string>() : f.default_value;
    ProjectConfig c;
    const std::string before = to_json_text(c, "");
    const std::string error = error_of([&] { apply_override(c, f.path + "=" + text); });
    EXPECT_EQ(error, std::string("(no error)"));
    EXPECT_EQ(to_json_text(c, ""), before);
  }
}

}  // namespace

LCTEST_MAIN
