// The project document: JSON text <-> ProjectConfig over the field table of schema.h, with the
// run history, relative paths, cross-field checks, atomic saving and --set overrides.
#include "app/project/project.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <utility>
#include <variant>

#include "app/project/schema.h"
#include "model/data/demo_series.h"

namespace latentcast::project {

// Generated from resources/demo/demo.lcproj by CMake (demo_project_data.cpp.in).
extern const char* const kDemoProjectJson;

namespace {

namespace fs = std::filesystem;
using schema::Json;
using schema::show;

constexpr const char* kOverrideSource = "--set";
constexpr const char* kDemoProjectName = "builtin demo project";

std::string compose(const std::string& file, const std::string& field, const std::string& message) {
  std::string head = file;
  if (!field.empty()) {
    // A command-line option reads as it was typed: "--set memory.batch_size: ...".
    const bool option = file.rfind("--", 0) == 0;
    head += head.empty() ? field : (option ? " " : ": ") + field;
  }
  return head.empty() ? message : head + ": " + message;
}

[[noreturn]] void fail(const std::string& file, const std::string& field,
                       const std::string& message) {
  throw ProjectError(file, field, message);
}

// ---- paths ----

// Values that name no file on disk, stored exactly as they are.
bool is_symbolic(const std::string& p) {
  return p.empty() || p == data::kDemoDatasetPath;
}

fs::path absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  a = a.lexically_normal();
  if (a.has_relative_path() && a.filename().empty()) a = a.parent_path();  // "/a/b/" -> "/a/b"
  return a;
}

// File form -> memory form. An empty base_dir leaves paths as written.
std::string resolve(const std::string& p, const std::string& base_dir) {
  if (is_symbolic(p) || base_dir.empty()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();  // an absolute p replaces base_dir
}

// Memory form -> file form. Below the project folder or beside it ("../data/x.csv") a relative path
// survives moving or sharing the folders together; further up it would be a fragile chain of "..",
// and across roots there is none, so the absolute path is kept.
std::string portable(const std::string& p, const std::string& base_dir) {
  if (is_symbolic(p) || base_dir.empty()) return p;
  const fs::path target = absolute_normal(p);
  const fs::path rel = target.lexically_relative(absolute_normal(base_dir));
  int ups = 0;
  for (const auto& part : rel) ups += part == "..";
  if (rel.empty() || ups > 1) return target.string();
  return rel.generic_string();
}

// ---- document shape ----

// The keys of each object of the document: the sections and fields of the table, plus the two
// top-level entries that are not settings.
struct Layout {
  std::map<std::string, std::vector<std::string>> children;  // object path ("" = top) -> its keys
  std::set<std::string> leaves;
};

const Layout& layout() {
  static const Layout kLayout = [] {
    Layout l;
    l.children[""] = {"schema_version"};
    l.leaves = {"schema_version", "runs", "calibrations"};
    for (const auto& spec : schema::table()) {
      l.leaves.insert(spec.path);
      std::string parent;
      for (std::size_t start = 0;;) {
        const auto dot = spec.path.find('.', start);
        const std::string name = spec.path.substr(start, dot - start);
        auto& keys = l.children[parent];
        if (std::find(keys.begin(), keys.end(), name) == keys.end()) keys.push_back(name);
        if (dot == std::string::npos) break;
        parent = spec.path.substr(0, dot);
        start = dot + 1;
      }
    }
    l.children[""].push_back("runs");
    l.children[""].push_back("calibrations");
    return l;
  }();
  return kLayout;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& names,
                                     const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(prefix + n);
  return out;
}

// Unknown keys are errors so that a typo is not silently replaced by the default.
void check_keys(const Json& object, const std::string& prefix, const std::string& file) {
  const Layout& shape = layout();
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const bool plain = key.find('.') == std::string::npos;
    if (const auto section = shape.children.find(path); plain && section != shape.children.end()) {
      if (!item.value().is_object())
        fail(file, path, "must be an object, got " + show(item.value()));
      check_keys(item.value(), path, file);
    } else if (!plain || shape.leaves.count(path) == 0) {
      const auto& siblings = shape.children.at(prefix);
      fail(file, path,
           "unknown field" + schema::did_you_mean(with_prefix(schema::closest(key, siblings),
                                                              prefix.empty() ? "" : prefix + ".")));
    }
  }
}

const Json* find_value(const Json& doc, const std::string& path) {
  const Json* node = &doc;
  for (std::size_t start = 0;;) {
    const auto dot = path.find('.', start);
    const auto it = node->find(path.substr(start, dot - start));
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

void put(Json& doc, const std::string& path, Json value) {
  Json* node = &doc;
  std::size_t start = 0;
  for (auto dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
    node = &(*node)[path.substr(start, dot - start)];
    start = dot + 1;
  }
  (*node)[path.substr(start)] = std::move(value);
}

void check_version(const Json& doc, const std::string& file) {
  const auto it = doc.find("schema_version");
  if (it == doc.end()) fail(file, "schema_version", "missing (is this a Latentcast project file?)");
  const auto version = schema::whole_number(*it);
  if (!version || *version < 1)
    fail(file, "schema_version", "must be an integer >= 1, got " + show(*it));
  if (*version > static_cast<std::uint64_t>(kSchemaVersion))
    fail(file, "schema_version",
         "written by a newer Latentcast (schema_version " + std::to_string(*version) +
             ", this version reads " + std::to_string(kSchemaVersion) + ")");
}

// ---- records: runs and calibrations ----

// The run history and the calibrations are written by the application, not the user, so they are
// checked for safe types rather than constrained like settings. One table of fields per record
// type drives reading, writing and checking.
template <class R>
struct RecordField {
  const char* key;
  std::variant<std::string R::*, std::int64_t R::*> member;
  bool is_path;
};
const RecordField<RunRecord> kRunFields[] = {
    {"id", &RunRecord::id, false},
    {"started", &RunRecord::started, false},
    {"finished", &RunRecord::finished, false},
    {"device", &RunRecord::device, false},
    {"status", &RunRecord::status, false},
    {"steps", &RunRecord::steps, false},
    {"checkpoint_best", &RunRecord::checkpoint_best, true},
    {"checkpoint_last", &RunRecord::checkpoint_last, true},
    {"peak_allocated_bytes", &RunRecord::peak_allocated_bytes, false},
    {"peak_reserved_bytes", &RunRecord::peak_reserved_bytes, false},
};
const RecordField<Calibration> kCalibrationFields[] = {
    {"device", &Calibration::device, false},
    {"measured", &Calibration::measured, false},
    {"steps", &Calibration::steps, false},
    {"measured_allocated_bytes", &Calibration::measured_allocated_bytes, false},
    {"measured_reserved_bytes", &Calibration::measured_reserved_bytes, false},
    {"context_bytes", &Calibration::context_bytes, false},
    {"predicted_allocated_bytes", &Calibration::predicted_allocated_bytes, false},
    {"predicted_reserved_bytes", &Calibration::predicted_reserved_bytes, false},
    {"allocator", &Calibration::allocator, false},
};
constexpr const char* kMetrics = "metrics";
constexpr const char* kCurves = "curves";

template <class R, std::size_t N>
std::vector<std::string> record_keys(const RecordField<R> (&fields)[N], bool metrics) {
  std::vector<std::string> keys;
  for (const auto& f : fields) keys.emplace_back(f.key);
  if (metrics) {
    keys.emplace_back(kMetrics);
    keys.emplace_back(kCurves);
  }
  return keys;
}

double number_or_nan(const Json& value, const std::string& file, const std::string& at) {
  // JSON has no NaN or infinity; a diverged loss is written as null and comes back as NaN.
  if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!value.is_number()) fail(file, at, "must be a number, got " + show(value));
  return value.get<double>();
}

Json number_or_null(double value) {
  return std::isfinite(value) ? Json(value) : Json(nullptr);
}

void read_curves(const Json& value, RunRecord& run, const std::string& file,
                 const std::string& at) {
  if (!value.is_object())
    fail(file, at, "must be an object of name: [numbers], got " + show(value));
  for (const auto& c : value.items()) {
    const std::string path = at + "." + c.key();
    if (!c.value().is_array())
      fail(file, path, "must be a list of numbers, got " + show(c.value()));
    std::vector<double> values;
    values.reserve(c.value().size());
    for (std::size_t i = 0; i < c.value().size(); ++i)
      values.push_back(number_or_nan(c.value()[i], file, path + "[" + std::to_string(i) + "]"));
    run.curves.emplace_back(c.key(), std::move(values));
  }
}

void read_metrics(const Json& value, RunRecord& run, const std::string& file,
                  const std::string& at) {
  if (!value.is_object()) fail(file, at, "must be an object of name: number, got " + show(value));
  for (const auto& m : value.items())
    run.metrics.emplace_back(m.key(), number_or_nan(m.value(), file, at + "." + m.key()));
}

// Reads the list `name` of records; `extra` handles a key the table does not (true if it did).
template <class R, std::size_t N, class Extra>
std::vector<R> read_records(const Json& doc, const char* name, const RecordField<R> (&fields)[N],
                            const std::string& file, const std::string& base_dir, Extra extra) {
  std::vector<R> records;
  const auto list = doc.find(name);
  if (list == doc.end()) return records;
  if (!list->is_array())
    fail(file, name, std::string("must be a list of objects, got ") + show(*list));
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = std::string(name) + "[" + std::to_string(i) + "]";
    const Json& item = (*list)[i];
    if (!item.is_object()) fail(file, at, "must be an object, got " + show(item));
    R record;
    for (const auto& entry : item.items()) {
      const std::string path = at + "." + entry.key();
      const Json& value = entry.value();
      if (extra(record, entry.key(), value, path)) continue;
      const RecordField<R>* field = nullptr;
      for (const auto& f : fields)
        if (entry.key() == f.key) field = &f;
      if (!field)
        fail(
            file, path,
            "unknown field" +
                schema::did_you_mean(with_prefix(
                    schema::closest(entry.key(), record_keys(fields, std::is_same_v<R, RunRecord>)),
                    at + ".")));
      if (const auto* text = std::get_if<std::string R::*>(&field->member)) {
        if (!value.is_string()) fail(file, path, "must be a string, got " + show(value));
        record.** text =
            field->is_path ? resolve(value.get<std::string>(), base_dir) : value.get<std::string>();
      } else {
        const auto count = schema::whole_number(value);
        if (!count || *count > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          fail(file, path, "must be an integer >= 0, got " + show(value));
        record.*std::get<std::int64_t R::*>(field->member) = static_cast<std::int64_t>(*count);
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

template <class R, std::size_t N>
Json write_record(const R& record, const RecordField<R> (&fields)[N], const std::string& base_dir) {
  Json item = Json::object();
  for (const auto& f : fields) {
    if (const auto* text = std::get_if<std::string R::*>(&f.member))
      item[f.key] = f.is_path ? portable(record.**text, base_dir) : record.**text;
    else
      item[f.key] = record.*std::get<std::int64_t R::*>(f.member);
  }
  return item;
}

template <class R, std::size_t N>
void check_counts(const std::vector<R>& records, const char* name,
                  const RecordField<R> (&fields)[N], const std::string& file) {
  for (std::size_t i = 0; i < records.size(); ++i)
    for (const auto& f : fields)
      if (const auto* count = std::get_if<std::int64_t R::*>(&f.member);
          count && records[i].**count < 0)
        fail(file, std::string(name) + "[" + std::to_string(i) + "]." + f.key,
             "must be an integer >= 0, got " + std::to_string(records[i].**count));
}

std::vector<RunRecord> read_runs(const Json& doc, const std::string& file,
                                 const std::string& base_dir) {
  return read_records(
      doc, "runs", kRunFields, file, base_dir,
      [&](RunRecord& run, const std::string& key, const Json& value, const std::string& path) {
        if (key == kMetrics) {
          read_metrics(value, run, file, path);
          return true;
        }
        if (key == kCurves) {
          read_curves(value, run, file, path);
          return true;
        }
        return false;
      });
}

std::vector<Calibration> read_calibrations(const Json& doc, const std::string& file,
                                           const std::string& base_dir) {
  return read_records(
      doc, "calibrations", kCalibrationFields, file, base_dir,
      [](Calibration&, const std::string&, const Json&, const std::string&) { return false; });
}

Json write_runs(const std::vector<RunRecord>& runs, const std::string& base_dir) {
  Json list = Json::array();
  for (const auto& run : runs) {
    Json item = write_record(run, kRunFields, base_dir);
    Json metrics = Json::object();
    for (const auto& [name, value] : run.metrics) metrics[name] = number_or_null(value);
    item[kMetrics] = std::move(metrics);
    if (!run.curves.empty()) {
      Json curves = Json::object();
      for (const auto& [name, values] : run.curves) {
        Json list = Json::array();
        for (const double v : values) list.push_back(number_or_null(v));
        curves[name] = std::move(list);
      }
      item[kCurves] = std::move(curves);
    }
    list.push_back(std::move(item));
  }
  return list;
}

Json write_calibrations(const std::vector<Calibration>& calibrations, const std::string& base_dir) {
  Json list = Json::array();
  for (const auto& c : calibrations) list.push_back(write_record(c, kCalibrationFields, base_dir));
  return list;
}

void check_runs(const std::vector<RunRecord>& runs, const std::string& file) {
  check_counts(runs, "runs", kRunFields, file);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string at = "runs[" + std::to_string(i) + "]";
    // Metrics are a JSON object in the file, where a repeated name would silently lose a value.
    std::set<std::string> seen;
    for (const auto& metric : runs[i].metrics)
      if (!seen.insert(metric.first).second)
        fail(file, at + "." + kMetrics, "duplicate metric " + show(Json(metric.first)));
    std::set<std::string> curve_names;
    for (const auto& [name, values] : runs[i].curves) {
      if (!curve_names.insert(name).second)
        fail(file, at + "." + kCurves, "duplicate curve " + show(Json(name)));
      if (values.size() != runs[i].curves.front().second.size())
        fail(file, at + "." + kCurves + "." + name,
             "has " + std::to_string(values.size()) + " values where " +
                 show(Json(runs[i].curves.front().first)) + " has " +
                 std::to_string(runs[i].curves.front().second.size()));
    }
  }
}

// ---- validation ----

void check_relations(const ProjectConfig& c, const std::string& file) {
  const ModelConfig& m = c.model;
  if (m.image_size % m.latent_factor != 0)
    fail(file, "model.image_size",
         "must be divisible by model.latent_factor (" + std::to_string(m.latent_factor) +
             "), got " + std::to_string(m.image_size));
  // Every UNet level after the first halves the latent grid.
  const int latent = m.image_size / m.latent_factor;
  const std::size_t levels = m.channels.size();
  const std::size_t halvings = levels - 1;
  if (halvings >= 31 || latent % (1 << halvings) != 0)
    fail(file, "model.image_size",
         "the latent side image_size / latent_factor = " + std::to_string(m.image_size) + " / " +
             std::to_string(m.latent_factor) + " = " + std::to_string(latent) +
             " must be divisible by 2^" + std::to_string(halvings) + " so that the " +
             std::to_string(levels) + " levels of model.channels can halve it");
  for (const int level : m.attention_levels) {
    if (static_cast<std::size_t>(level) >= levels)
      fail(file, "model.attention_levels",
           "level " + std::to_string(level) + " is out of range: model.channels has " +
               std::to_string(levels) + " levels (0.." + std::to_string(levels - 1) + ")");
    if (m.channels[level] % m.heads != 0)
      fail(file, "model.heads",
           "must divide the channel count of every attention level, but level " +
               std::to_string(level) + " has " + std::to_string(m.channels[level]) +
               " channels and heads is " + std::to_string(m.heads));
  }
  // The UNet's middle block always attends, at the last level.
  if (m.channels.back() % m.heads != 0)
    fail(file, "model.heads",
         "must divide the channel count of the last level (the UNet's middle block attends there), "
         "but it "
         "has " +
             std::to_string(m.channels.back()) + " channels and heads is " +
             std::to_string(m.heads));

  const SplitConfig& split = c.dataset.split;
  if (!(split.train + split.val < 1))
    fail(file, "dataset.split.val",
         "dataset.split.train + dataset.split.val must be < 1 (the rest is the test set), got " +
             show(Json(split.train)) + " + " + show(Json(split.val)));
  const auto& columns = c.dataset.columns;
  if (!columns.empty())
    for (const auto& target : c.dataset.target_columns)
      if (std::find(columns.begin(), columns.end(), target) == columns.end())
        fail(file, "dataset.target_columns", show(Json(target)) + " is not one of dataset.columns");

  if (c.memory.window_overlap >= c.memory.window_size)
    fail(file, "memory.window_overlap",
         "must be < memory.window_size (" + std::to_string(c.memory.window_size) + "), got " +
             std::to_string(c.memory.window_overlap));
  if (c.training.steps == 0 && c.training.epochs == 0)
    fail(file, "training.epochs", "must be >= 1 when training.steps is 0, got 0");
  if (c.forecasting.steps > m.diffusion_steps)
    fail(file, "forecasting.steps",
         "must be <= model.diffusion_steps (" + std::to_string(m.diffusion_steps) + "), got " +
             std::to_string(c.forecasting.steps));
}

// validate() with the source named in messages: a file, "--set", or nothing.
void check_config(const ProjectConfig& config, const std::string& file) {
  for (const auto& spec : schema::table()) {
    const Json value = spec.get(config);
    if (!spec.accepts(value)) fail(file, spec.path, spec.error_for(value));
  }
  check_relations(config, file);
  check_runs(config.runs, file);
  check_counts(config.calibrations, "calibrations", kCalibrationFields, file);
}

std::string serialise(const ProjectConfig& config, const std::string& base_dir,
                      const std::string& file) {
  Json doc = Json::object();
  doc["schema_version"] = kSchemaVersion;
  for (const auto& spec : schema::table()) {
    Json value = spec.get(config);
    if (spec.kind == schema::Kind::Path) value = portable(value.get<std::string>(), base_dir);
    put(doc, spec.path, std::move(value));
  }
  doc["runs"] = write_runs(config.runs, base_dir);
  doc["calibrations"] = write_calibrations(config.calibrations, base_dir);
  try {
    return doc.dump(2);
  } catch (const Json::exception&) {
    // Strings from the file are valid UTF-8; this is about text set in memory.
    fail(file, "", "cannot save: a text field is not valid UTF-8");
  }
}

// nlohmann's message starts with an internal id: keep "line 12, column 3: <what went wrong>".
std::string parse_position(const std::string& what) {
  const std::string marker = "parse error at ";
  const auto at = what.find(marker);
  if (at != std::string::npos) return what.substr(at + marker.size());
  const auto bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

// ---- files ----

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "", std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      ::close(fd);
      fail(path, "", std::string("cannot read: ") + std::strerror(error));
    }
  }
  ::close(fd);
  return text;
}

// Writes everything and forces it to disk; returns 0 or an errno value.
int write_and_sync(int fd, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ::fsync(fd) == 0 ? 0 : errno;
}

// Makes the rename itself durable. The new contents are complete on disk already, so a failure here
// (some filesystems refuse fsync on a directory) does not fail the save.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// A reader, or a crash, sees either the old file or the new one, never a partial write.
void write_atomically(const fs::path& target, const std::string& text, const std::string& file) {
  static std::atomic<unsigned> counter{0};
  const fs::path temp =
      target.parent_path() / ("." + target.filename().string() + ".tmp-" +
                              std::to_string(::getpid()) + "-" + std::to_string(counter++));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) fail(file, "", std::string("cannot write: ") + std::strerror(errno));
  // Replacing a file keeps its permissions; if that fails the new file simply has the default ones.
  struct stat existing {};
  if (::stat(target.c_str(), &existing) == 0 && S_ISREG(existing.st_mode))
    (void)::fchmod(fd, existing.st_mode & 07777);
  int error = write_and_sync(fd, text);
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    fail(file, "", std::string("cannot write: ") + std::strerror(error));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    error = errno;
    ::unlink(temp.c_str());
    fail(file, "", std::string("cannot replace: ") + std::strerror(error));
  }
  sync_directory(target.parent_path());
}

// ---- overrides ----

std::string leaf_of(const std::string& path) {
  return path.substr(path.rfind('.') + 1);
}

// A dotted key is matched as a whole; a bare name ("batch_size") is most likely the field of that
// name in whichever section holds it.
std::vector<std::string> override_suggestions(const std::string& key) {
  std::vector<std::string> paths, leaves;
  for (const auto& spec : schema::table()) {
    paths.push_back(spec.path);
    leaves.push_back(leaf_of(spec.path));
  }
  if (key.find('.') != std::string::npos) return schema::closest(key, paths);
  const auto names = schema::closest(key, leaves);
  std::vector<std::string> out;
  for (const auto& path : paths)
    if (std::find(names.begin(), names.end(), leaf_of(path)) != names.end()) out.push_back(path);
  return out;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

ProjectError::ProjectError(std::string file, std::string field, const std::string& message)
    : std::runtime_error(compose(file, field, message)),
      file_(std::move(file)),
      field_(std::move(field)) {}

const std::vector<FieldInfo>& fields() {
  static const std::vector<FieldInfo> kFields = [] {
    const ProjectConfig defaults;
    std::vector<FieldInfo> out;
    for (const auto& spec : schema::table())
      out.push_back(
          {spec.path, schema::kind_name(spec.kind), spec.allowed, show(spec.get(defaults))});
    return out;
  }();
  return kFields;
}

ProjectConfig from_json_text(const std::string& text, const std::string& file,
                             const std::string& base_dir) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail(file, "", "file is empty");
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    fail(file, "", "not a valid project file: " + parse_position(e.what()));
  }
  if (!doc.is_object())
    fail(file, "",
         std::string("not a valid project file: expected a JSON object, got ") + doc.type_name());
  // The version comes first: a newer file may well have keys this version does not know.
  check_version(doc, file);
  check_keys(doc, "", file);

  ProjectConfig config;
  for (const auto& spec : schema::table()) {
    const Json* value = find_value(doc, spec.path);
    if (!value) continue;  // the struct default stands
    if (!spec.accepts(*value)) fail(file, spec.path, spec.error_for(*value));
    if (spec.kind == schema::Kind::Path)
      spec.store(config, Json(resolve(value->get<std::string>(), base_dir)));
    else
      spec.store(config, *value);
  }
  config.runs = read_runs(doc, file, base_dir);
  config.calibrations = read_calibrations(doc, file, base_dir);
  check_config(config, file);
  return config;
}

std::string to_json_text(const ProjectConfig& config, const std::string& base_dir) {
  return serialise(config, base_dir, "");
}

ProjectConfig load(const std::string& path) {
  const std::string text = read_file(path);
  return from_json_text(text, path, absolute_normal(path).parent_path().string());
}

void save(const ProjectConfig& config, const std::string& path) {
  // Never write a file that load() would refuse.
  check_config(config, path);
  const fs::path target = absolute_normal(path);
  write_atomically(target, serialise(config, target.parent_path().string(), path) + "\n", path);
}

void apply_override(ProjectConfig& config, const std::string& assignment) {
  const auto equals = assignment.find('=');
  const std::string key = trim(assignment.substr(0, equals));
  if (equals == std::string::npos || key.empty())
    fail(kOverrideSource, key,
         "expected key=value (e.g. memory.batch_size=8), got " + show(Json(assignment)));
  const schema::FieldSpec* spec = schema::find(key);
  if (!spec)
    fail(kOverrideSource, key, "unknown field" + schema::did_you_mean(override_suggestions(key)));

  Json value = schema::parse_text(spec->kind, assignment.substr(equals + 1));
  if (!spec->accepts(value)) fail(kOverrideSource, key, spec->error_for(value));
  // On the command line a relative path means relative to the working directory.
  if (spec->kind == schema::Kind::Path && !is_symbolic(value.get<std::string>()))
    value = absolute_normal(value.get<std::string>()).string();
  spec->store(config, value);
}

void apply_overrides(ProjectConfig& config, const std::vector<std::string>& assignments) {
  // All keys first, relations after: "--set model.channels=16,32 --set model.attention_levels=1"
  // must not fail on the order of its flags.
  ProjectConfig updated = config;
  for (const auto& assignment : assignments) apply_override(updated, assignment);
  check_config(updated, kOverrideSource);
  config = std::move(updated);
}

void validate(const ProjectConfig& config) {
  check_config(config, "");
}

ProjectConfig make_default(const std::string& csv_path,
                           const std::vector<std::string>& numeric_columns,
                           const std::vector<std::string>& targets,
                           const std::string& date_column) {
  ProjectConfig config;
  const std::string stem = fs::path(csv_path).stem().string();
  if (!stem.empty()) config.name = stem;
  config.dataset.path = is_symbolic(csv_path) ? csv_path : absolute_normal(csv_path).string();
  config.dataset.columns = numeric_columns;
  config.dataset.target_columns = targets;
  config.dataset.date_column = date_column;
  return config;
}

ProjectConfig demo_project() {
  return from_json_text(kDemoProjectJson, kDemoProjectName, "");
}

}  // namespace latentcast::project
