// The dataset and project commands of latentcast-cli: inspect, new, validate, demo, devices.
#include "app/cli/commands.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/project/project.h"
#include "model/attention/availability.h"
#include "model/data/dataset.h"
#include "model/data/demo_series.h"
#include "model/data/split.h"
#include "model/device.h"
#include "model/engine.h"

namespace latentcast::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string delimiter_text(char d) {
  return d == '\t' ? "tab" : std::string(1, d);
}

// A project from --project with every --set applied, validated.
ProjectConfig load_project(const Args& args) {
  ProjectConfig config = project::load(args.required("--project"));
  project::apply_overrides(config, args.all("--set"));
  return config;
}

json inspect_json(const data::Table& t, const data::Sampling& s) {
  json columns = json::array();
  for (const auto& c : t.columns)
    columns.push_back(
        {{"name", c.name}, {"type", data::to_string(c.type)}, {"missing", c.missing}});
  json missing = json::array();
  for (const auto& m : t.missing) missing.push_back({{"line", m.line}, {"column", m.column}});
  json out = {{"file", t.file},
              {"rows", t.rows()},
              {"delimiter", delimiter_text(t.delimiter)},
              {"has_header", t.has_header},
              {"columns", columns},
              {"numeric_columns", t.numeric_names},
              {"date_column", t.date_column},
              {"missing_total", t.missing.size()},
              {"missing", missing},
              {"warnings", t.warnings}};
  if (!t.timestamps.empty()) {
    out["date_start"] = data::format_datetime(t.timestamps.front());
    out["date_end"] = data::format_datetime(t.timestamps.back());
    out["interval_seconds"] = s.interval_seconds;
    out["regular"] = s.regular;
  }
  return out;
}

void print_inspect(const data::Table& t, const data::Sampling& s) {
  std::printf("file:       %s\n", t.file.c_str());
  std::printf("rows:       %lld\n", static_cast<long long>(t.rows()));
  std::printf("columns:    %zu (%zu numeric)   delimiter: %s   header: %s\n", t.columns.size(),
              t.numeric_names.size(), delimiter_text(t.delimiter).c_str(),
              t.has_header ? "yes" : "no");
  if (!t.timestamps.empty())
    std::printf("dates:      %s .. %s, every %s%s\n",
                data::format_datetime(t.timestamps.front()).c_str(),
                data::format_datetime(t.timestamps.back()).c_str(),
                data::format_interval(s.interval_seconds).c_str(), s.regular ? "" : " (irregular)");
  std::printf("\n  %-24s %-9s %s\n", "column", "type", "missing");
  for (const auto& c : t.columns)
    std::printf("  %-24s %-9s %lld\n", c.name.c_str(), data::to_string(c.type),
                static_cast<long long>(c.missing));
  if (t.missing.empty()) {
    std::printf("\nmissing values: none\n");
  } else {
    std::printf("\nmissing values: %zu (filled forward for this summary)\n", t.missing.size());
    const std::size_t shown = std::min<std::size_t>(t.missing.size(), 10);
    for (std::size_t i = 0; i < shown; ++i)
      std::printf("  line %lld, column '%s'\n", static_cast<long long>(t.missing[i].line),
                  t.missing[i].column.c_str());
    if (shown < t.missing.size()) std::printf("  ... and %zu more\n", t.missing.size() - shown);
  }
  for (const auto& w : t.warnings) std::printf("warning: %s\n", w.c_str());
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& argv) {
  const Args args(argv, {"--csv", "--date-column"}, {"--json"});
  data::CsvOptions options;
  options.missing = MissingPolicy::FillForward;  // report every missing cell instead of stopping
  options.date_column = args.value("--date-column");
  const data::Table table = data::read_csv(args.required("--csv"), options);
  const data::Sampling sampling = data::sampling_of(table);
  if (args.flag("--json"))
    std::cout << inspect_json(table, sampling).dump(2) << "\n";
  else
    print_inspect(table, sampling);
  return kExitOk;
}

int cmd_new(const std::vector<std::string>& argv) {
  const Args args(argv, {"--csv", "--out", "--target", "--lookback", "--horizon", "--set"},
                  {"--force"});
  const std::string csv = fs::absolute(args.required("--csv")).lexically_normal().string();
  const std::string out = args.required("--out");
  if (fs::exists(out) && !args.flag("--force"))
    throw UsageError(out + ": already exists (use --force to replace it)");

  data::CsvOptions probe;
  probe.missing = MissingPolicy::FillForward;  // learn the columns; the policy is checked below
  const data::Table table = data::read_csv(csv, probe);

  ProjectConfig config =
      project::make_default(csv, table.numeric_names, args.all("--target"), table.date_column);
  config.dataset.lookback =
      static_cast<int>(args.integer("--lookback", config.dataset.lookback, 1, 1 << 20));
  config.dataset.horizon =
      static_cast<int>(args.integer("--horizon", config.dataset.horizon, 1, 1 << 20));
  data::check_columns(table, config.dataset);  // first: its message names the CSV's columns
  project::apply_overrides(config, args.all("--set"));
  data::check_columns(table, config.dataset);
  if (config.dataset.missing == MissingPolicy::Reject && !table.missing.empty())
    throw data::CsvError(
        csv, table.missing.front().line,
        "missing value in column '" + table.missing.front().column +
            "' (add --set dataset.missing_policy=fill_forward to fill missing values)");
  data::compute_split(table.rows(), config.dataset.split, config.dataset.lookback,
                      config.dataset.horizon);
  project::save(config, out);
  std::printf("wrote %s: %lld rows, inputs %zu columns, targets %s\n", out.c_str(),
              static_cast<long long>(table.rows()),
              data::input_columns(table, config.dataset).size(),
              config.dataset.target_columns.empty() ? "all" : "as given");
  return kExitOk;
}

int cmd_validate(const std::vector<std::string>& argv) {
  const Args args(argv, {"--project", "--set"}, {"--json"});
  const ProjectConfig config = load_project(args);
  const data::Table table = data::load_table(config.dataset);
  data::check_columns(table, config.dataset);
  const auto& d = config.dataset;
  const data::SplitRows split = data::compute_split(table.rows(), d.split, d.lookback, d.horizon);
  const auto windows = [&](const data::RowRange& r) {
    return data::window_count(r, d.lookback, d.horizon, d.stride);
  };
  const auto targets = data::target_columns(table, d);
  if (args.flag("--json")) {
    json out = {{"project", args.required("--project")},
                {"name", config.name},
                {"rows", table.rows()},
                {"input_columns", data::input_columns(table, d)},
                {"target_columns", targets},
                {"split",
                 {{"train", {split.train.begin, split.train.end}},
                  {"val", {split.val.begin, split.val.end}},
                  {"test", {split.test.begin, split.test.end}}}},
                {"windows",
                 {{"train", windows(split.train)},
                  {"val", windows(split.val)},
                  {"test", windows(split.test)}}},
                {"attention_backend", to_string(config.memory.attention_backend)},
                {"precision", to_string(config.memory.precision)},
                {"batch_size", config.memory.batch_size},
                {"image_size", config.model.image_size}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%s: valid\n", args.required("--project").c_str());
  std::printf("  name:     %s\n", config.name.c_str());
  std::printf("  data:     %s, %lld rows, %zu input columns, targets: ", d.path.c_str(),
              static_cast<long long>(table.rows()), data::input_columns(table, d).size());
  for (std::size_t i = 0; i < targets.size(); ++i)
    std::printf("%s%s", i ? ", " : "", targets[i].c_str());
  std::printf("\n  windows:  L=%d H=%d stride=%d; train %lld, val %lld, test %lld\n", d.lookback,
              d.horizon, d.stride, static_cast<long long>(windows(split.train)),
              static_cast<long long>(windows(split.val)),
              static_cast<long long>(windows(split.test)));
  std::printf("  model:    image %d, latent /%d, %zu levels, attention at %zu levels, %d heads\n",
              config.model.image_size, config.model.latent_factor, config.model.channels.size(),
              config.model.attention_levels.size(), config.model.heads);
  std::printf("  memory:   %s attention, checkpointing %s, %s, batch %d\n",
              to_string(config.memory.attention_backend),
              to_string(config.memory.gradient_checkpointing), to_string(config.memory.precision),
              config.memory.batch_size);
  return kExitOk;
}

int cmd_demo(const std::vector<std::string>& argv) {
  const Args args(argv, {"--out", "--rows"}, {});
  const fs::path dir = fs::absolute(args.required("--out"));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UsageError("--out: cannot create " + dir.string() + ": " + ec.message());
  const data::Table table = data::make_demo_series(args.integer("--rows", 4000, 500, 10000000));
  const std::string csv = (dir / "demo.csv").string();
  data::write_csv(table, csv);
  ProjectConfig config = project::demo_project();
  config.dataset.path = csv;
  const std::string proj = (dir / "demo.lcproj").string();
  project::save(config, proj);
  std::printf("wrote %s (%lld rows) and %s\n", csv.c_str(), static_cast<long long>(table.rows()),
              proj.c_str());
  return kExitOk;
}

int cmd_settings(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {"--json"});
  if (args.flag("--json")) {
    json out = json::array();
    for (const auto& f : project::fields())
      out.push_back({{"path", f.path},
                     {"kind", f.kind},
                     {"allowed", f.allowed},
                     {"default", json::parse(f.default_value)}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%-34s %-13s %-40s %s\n", "setting", "kind", "allowed", "default");
  for (const auto& f : project::fields())
    std::printf("%-34s %-13s %-40s %s\n", f.path.c_str(), f.kind.c_str(), f.allowed.c_str(),
                f.default_value.c_str());
  return kExitOk;
}

int cmd_devices(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {"--json"});
  const DeviceReport r = detect_devices();
  if (args.flag("--json")) {
    json gpus = json::array();
    for (const auto& g : r.gpus)
      gpus.push_back(
          {{"index", g.index},
           {"name", g.name},
           {"compute_capability", std::to_string(g.major) + "." + std::to_string(g.minor)},
           {"total_bytes", g.total_bytes},
           {"free_bytes", g.free_bytes},
           {"multiprocessors", g.multiprocessors}});
    std::cout << json{{"torch_version", r.torch_version},
                      {"cuda_compiled", r.cuda_compiled},
                      {"cuda_available", r.cuda_available},
                      {"reason", r.reason},
                      {"gpus", gpus}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("LibTorch %s, CUDA %s\n", r.torch_version.c_str(),
              r.cuda_available ? "available" : ("unavailable: " + r.reason).c_str());
  for (const auto& g : r.gpus)
    std::printf("  cuda:%d  %s  (compute %d.%d, %.1f GiB, %d SMs)\n", g.index, g.name.c_str(),
                g.major, g.minor, double(g.total_bytes) / double(1ll << 30), g.multiprocessors);
  return kExitOk;
}

int cmd_backends(const std::vector<std::string>& argv) {
  const Args args(argv, {"--device", "--head-dim"}, {"--json"});
  const DeviceReport r = detect_devices();
  const std::string device = args.value("--device", "auto");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device: must be cpu, cuda or auto, got \"" + device + "\"");
  if (device == "cuda" && !r.cuda_available)
    throw engine::EngineError(engine::ErrorKind::Device, "--device cuda: " + r.reason);
  const bool on_cuda = device == "cuda" || (device == "auto" && r.cuda_available);
  const int head_dim = static_cast<int>(args.integer("--head-dim", 64, 1, 4096));
  std::string auto_note;
  const AttentionBackend chosen =
      resolve_backend(AttentionBackend::Auto, r, on_cuda, head_dim, &auto_note);
  // Every concrete backend with its availability, once, for either output.
  struct Row {
    std::string name;
    AttentionBackend backend;
    Availability availability;
  };
  std::vector<Row> rows;
  for (const auto& name : enum_names<AttentionBackend>()) {
    const AttentionBackend b = *enum_from_string<AttentionBackend>(name);
    if (b != AttentionBackend::Auto)
      rows.push_back({name, b, backend_availability(b, r, on_cuda, head_dim)});
  }
  if (args.flag("--json")) {
    json list = json::array();
    for (const Row& row : rows)
      list.push_back({{"backend", row.name},
                      {"available", row.availability.available},
                      {"reason", row.availability.reason},
                      {"exact", is_exact(row.backend)},
                      {"description", describe(row.backend)}});
    std::cout << json{{"device", on_cuda ? "cuda" : "cpu"},
                      {"head_dim", head_dim},
                      {"auto", to_string(chosen)},
                      {"backends", list}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("attention backends on %s, head dim %d (%s)\n", on_cuda ? "cuda" : "cpu", head_dim,
              auto_note.c_str());
  for (const Row& row : rows)
    std::printf(
        "  %-13s %-5s %-11s %s\n", row.name.c_str(), is_exact(row.backend) ? "exact" : "",
        row.availability.available ? "available" : "unavailable",
        row.availability.available ? describe(row.backend) : row.availability.reason.c_str());
  return kExitOk;
}

}  // namespace latentcast::cli
