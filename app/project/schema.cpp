// The field table of the project document and the per-kind checks, conversions and command-line
// parsing behind it. Each field is listed once, with its path, constraint and accessor.
#include "app/project/schema.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>

namespace latentcast::project::schema {
namespace {

// A generic lambda returning a reference serves both reads (from a const config) and writes.
#define LC_MEMBER(expr)  \
  [](auto& c) -> auto& { \
    return c.expr;       \
  }

template <class Access>
using ValueOf = std::decay_t<decltype(std::declval<Access>()(std::declval<ProjectConfig&>()))>;

template <class T>
Json encode(const T& v) {
  if constexpr (std::is_enum_v<T>)
    return Json(to_string(v));
  else
    return Json(v);
}

// Converts a value that the field's `accepts` has already checked.
template <class T>
T decode(const Json& v) {
  if constexpr (std::is_enum_v<T>) {
    return *enum_from_string<T>(v.get<std::string>());
  } else if constexpr (std::is_same_v<T, bool> || std::is_floating_point_v<T>) {
    return v.get<T>();
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(*whole_number(v));
  } else if constexpr (std::is_same_v<T, std::vector<int>>) {
    T out;
    for (const auto& e : v) out.push_back(static_cast<int>(*whole_number(e)));
    return out;
  } else {
    return v.get<T>();  // std::string, std::vector<std::string>
  }
}

template <class Access>
FieldSpec make(std::string path, Kind kind, std::string allowed, std::string expected,
               Access access, std::function<bool(const Json&)> accepts) {
  using T = ValueOf<Access>;
  return FieldSpec{std::move(path),
                   kind,
                   std::move(allowed),
                   std::move(expected),
                   [access](const ProjectConfig& c) { return encode(access(c)); },
                   std::move(accepts),
                   [access](ProjectConfig& c, const Json& v) { access(c) = decode<T>(v); }};
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// Integer bounds; the upper one is left out of messages when it is only the storage type's limit.
std::string describe_range(std::uint64_t lo, std::uint64_t hi, std::uint64_t type_max) {
  std::string s = ">= " + std::to_string(lo);
  if (hi < type_max) s += " and <= " + std::to_string(hi);
  return s;
}

bool whole_in(const Json& v, std::uint64_t lo, std::uint64_t hi) {
  const auto w = whole_number(v);
  return w && *w >= lo && *w <= hi;
}

template <class Access>
FieldSpec integer(std::string path, Access access, std::uint64_t lo,
                  std::uint64_t hi = std::numeric_limits<ValueOf<Access>>::max()) {
  const std::string range = describe_range(lo, hi, std::numeric_limits<ValueOf<Access>>::max());
  return make(std::move(path), Kind::Integer, range, "an integer " + range, access,
              [lo, hi](const Json& v) { return whole_in(v, lo, hi); });
}

template <class Access>
FieldSpec integer_choice(std::string path, Access access, std::vector<std::uint64_t> choices) {
  std::vector<std::string> names;
  for (auto c : choices) names.push_back(std::to_string(c));
  return make(std::move(path), Kind::Integer, join(names, "|"), "one of " + join(names, ", "),
              access, [choices](const Json& v) {
                const auto w = whole_number(v);
                return w && std::find(choices.begin(), choices.end(), *w) != choices.end();
              });
}

enum class Edge { Closed, Open };
constexpr double kUnbounded = std::numeric_limits<double>::infinity();

std::string format_bound(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

template <class Access>
FieldSpec number(std::string path, Access access, double lo, Edge lo_edge, double hi = kUnbounded,
                 Edge hi_edge = Edge::Closed) {
  const bool lo_open = lo_edge == Edge::Open, hi_open = hi_edge == Edge::Open;
  std::string allowed, expected;
  if (std::isfinite(hi)) {
    allowed = format_bound(lo) + (lo_open ? " < x " : " <= x ") + (hi_open ? "< " : "<= ") +
              format_bound(hi);
    expected = "a number with " + allowed;
  } else {
    allowed = (lo_open ? "> " : ">= ") + format_bound(lo);
    expected = "a number " + allowed;
  }
  return make(std::move(path), Kind::Number, allowed, expected, access, [=](const Json& v) {
    if (!v.is_number()) return false;
    const double x = v.get<double>();
    const bool above = lo_open ? x > lo : x >= lo;
    const bool below = hi_open ? x < hi : x <= hi;
    return std::isfinite(x) && above && below;
  });
}

template <class Access>
FieldSpec boolean(std::string path, Access access) {
  return make(std::move(path), Kind::Boolean, "true|false", "true or false", access,
              [](const Json& v) { return v.is_boolean(); });
}

template <class Access>
FieldSpec text(std::string path, Access access, bool non_empty) {
  return make(std::move(path), Kind::String, non_empty ? "non-empty" : "any text",
              non_empty ? "a non-empty string" : "a string", access, [non_empty](const Json& v) {
                return v.is_string() && !(non_empty && v.get_ref<const std::string&>().empty());
              });
}

// Stored relative to the project file where that is tidy, absolute in memory (see project.cpp).
template <class Access>
FieldSpec file_path(std::string path, Access access) {
  return make(std::move(path), Kind::Path, "file path (relative to the project) or builtin:demo",
              "a string", access, [](const Json& v) { return v.is_string(); });
}

template <class Access>
FieldSpec enumeration(std::string path, Access access) {
  using E = ValueOf<Access>;
  const std::string names = join(enum_names<E>(), "|");
  return make(std::move(path), Kind::Enum, names, "one of " + names, access, [](const Json& v) {
    return v.is_string() && enum_from_string<E>(v.get<std::string>()).has_value();
  });
}

struct ListRule {
  bool non_empty;
  bool unique;
};
constexpr ListRule kNonEmpty{true, false};
constexpr ListRule kUnique{false, true};

template <class Access>
FieldSpec integer_list(std::string path, Access access, ListRule rule, std::uint64_t lo,
                       std::uint64_t hi = std::numeric_limits<int>::max()) {
  const std::string range = describe_range(lo, hi, std::numeric_limits<int>::max());
  const std::string adjectives =
      std::string(rule.non_empty ? "non-empty, " : "") + (rule.unique ? "unique, " : "");
  const std::string expected = std::string("a ") + (rule.non_empty ? "non-empty " : "") +
                               "list of " + (rule.unique ? "unique " : "") + "integers " + range;
  return make(std::move(path), Kind::IntegerList, adjectives + "each " + range, expected, access,
              [rule, lo, hi](const Json& v) {
                if (!v.is_array() || (rule.non_empty && v.empty())) return false;
                std::set<std::uint64_t> seen;
                for (const auto& e : v) {
                  if (!whole_in(e, lo, hi)) return false;
                  if (rule.unique && !seen.insert(*whole_number(e)).second) return false;
                }
                return true;
              });
}

// Column lists: names must be unique and non-empty, or the model's inputs would be ambiguous.
template <class Access>
FieldSpec string_list(std::string path, Access access) {
  return make(std::move(path), Kind::StringList, "unique non-empty names",
              "a list of unique non-empty strings", access, [](const Json& v) {
                if (!v.is_array()) return false;
                std::set<std::string> seen;
                for (const auto& e : v)
                  if (!e.is_string() || e.get_ref<const std::string&>().empty() ||
                      !seen.insert(e.get<std::string>()).second)
                    return false;
                return true;
              });
}

std::vector<FieldSpec> build_table() {
  return {
      text("name", LC_MEMBER(name), true),
      file_path("dataset.path", LC_MEMBER(dataset.path)),
      string_list("dataset.columns", LC_MEMBER(dataset.columns)),
      string_list("dataset.target_columns", LC_MEMBER(dataset.target_columns)),
      text("dataset.date_column", LC_MEMBER(dataset.date_column), false),
      enumeration("dataset.missing_policy", LC_MEMBER(dataset.missing)),
      enumeration("dataset.split.mode", LC_MEMBER(dataset.split.mode)),
      number("dataset.split.train", LC_MEMBER(dataset.split.train), 0, Edge::Open, 1, Edge::Open),
      number("dataset.split.val", LC_MEMBER(dataset.split.val), 0, Edge::Closed, 1, Edge::Open),
      integer("dataset.lookback", LC_MEMBER(dataset.lookback), 1),
      integer("dataset.horizon", LC_MEMBER(dataset.horizon), 1),
      integer("dataset.stride", LC_MEMBER(dataset.stride), 1),

      integer("model.image_size", LC_MEMBER(model.image_size), 8, 4096),
      integer_choice("model.latent_factor", LC_MEMBER(model.latent_factor), {1, 2, 4, 8}),
      integer("model.latent_channels", LC_MEMBER(model.latent_channels), 1, 1024),
      integer_list("model.channels", LC_MEMBER(model.channels), kNonEmpty, 1, 65536),
      integer_list("model.attention_levels", LC_MEMBER(model.attention_levels), kUnique, 0),
      integer("model.heads", LC_MEMBER(model.heads), 1, 1024),
      number("model.dropout", LC_MEMBER(model.dropout), 0, Edge::Closed, 1, Edge::Open),
      enumeration("model.conditioning", LC_MEMBER(model.conditioning)),
      enumeration("model.prediction", LC_MEMBER(model.prediction)),
      enumeration("model.noise_schedule", LC_MEMBER(model.noise_schedule)),
      integer("model.diffusion_steps", LC_MEMBER(model.diffusion_steps), 1, 100000),
      integer("model.period", LC_MEMBER(model.period), 0),

      enumeration("memory.attention_backend", LC_MEMBER(memory.attention_backend)),
      enumeration("memory.gradient_checkpointing", LC_MEMBER(memory.gradient_checkpointing)),
      enumeration("memory.precision", LC_MEMBER(memory.precision)),
      integer("memory.batch_size", LC_MEMBER(memory.batch_size), 1, 65536),
      boolean("memory.latent_caching", LC_MEMBER(memory.latent_caching)),
      integer("memory.slice_size", LC_MEMBER(memory.slice_size), 1),
      integer("memory.window_size", LC_MEMBER(memory.window_size), 1),
      integer("memory.window_overlap", LC_MEMBER(memory.window_overlap), 0),

      integer("training.vae_steps", LC_MEMBER(training.vae_steps), 0),
      integer("training.steps", LC_MEMBER(training.steps), 0),
      integer("training.epochs", LC_MEMBER(training.epochs), 0),
      number("training.learning_rate", LC_MEMBER(training.learning_rate), 0, Edge::Open, 1),
      number("training.weight_decay", LC_MEMBER(training.weight_decay), 0, Edge::Closed),
      integer("training.warmup_steps", LC_MEMBER(training.warmup_steps), 0),
      number("training.ema_decay", LC_MEMBER(training.ema_decay), 0, Edge::Closed, 1, Edge::Open),
      integer("training.ema_warmup_steps", LC_MEMBER(training.ema_warmup_steps), 0),
      number("training.grad_clip", LC_MEMBER(training.grad_clip), 0, Edge::Closed),
      integer("training.early_stop_patience", LC_MEMBER(training.early_stop_patience), 0),
      integer("training.validate_every", LC_MEMBER(training.validate_every), 1),
      integer("training.seed", LC_MEMBER(training.seed), 0),

      integer("forecasting.samples", LC_MEMBER(forecasting.samples), 1),
      enumeration("forecasting.sampler", LC_MEMBER(forecasting.sampler)),
      integer("forecasting.steps", LC_MEMBER(forecasting.steps), 1),
      number("forecasting.eta", LC_MEMBER(forecasting.eta), 0, Edge::Closed, 1),
      integer("forecasting.seed", LC_MEMBER(forecasting.seed), 0),
  };
}

#undef LC_MEMBER

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::optional<Json> parse_integer(const std::string& s) {
  const char* first = s.data();
  const char* last = first + s.size();
  std::int64_t i = 0;
  if (auto r = std::from_chars(first, last, i);
      r.ec == std::errc() && r.ptr == last && first != last)
    return Json(i);
  std::uint64_t u = 0;
  if (auto r = std::from_chars(first, last, u);
      r.ec == std::errc() && r.ptr == last && first != last)
    return Json(u);
  return std::nullopt;
}

std::optional<Json> parse_number(const std::string& s) {
  const char* first = s.data();
  const char* last = first + s.size();
  double d = 0;
  const auto r = std::from_chars(first, last, d);
  if (r.ec == std::errc() && r.ptr == last && first != last && std::isfinite(d)) return Json(d);
  return std::nullopt;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto comma = s.find(',', start);
    parts.push_back(trim(s.substr(start, comma - start)));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

}  // namespace

// A non-negative whole JSON number. Integral floats (8.0, 1e3) count: JSON does not distinguish
// them, and some writers emit every number as a float. Range checks happen before any conversion to
// a narrower type, so 1e30 or -1 is reported, never wrapped.
std::optional<std::uint64_t> whole_number(const Json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i >= 0) return static_cast<std::uint64_t>(i);
    return std::nullopt;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= 0 && d < 0x1p64 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

std::string FieldSpec::error_for(const Json& value) const {
  return "must be " + expected + ", got " + show(value);
}

const std::vector<FieldSpec>& table() {
  static const std::vector<FieldSpec> kTable = build_table();
  return kTable;
}

const FieldSpec* find(const std::string& path) {
  for (const auto& spec : table())
    if (spec.path == path) return &spec;
  return nullptr;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Integer:
      return "integer";
    case Kind::Number:
      return "number";
    case Kind::Boolean:
      return "boolean";
    case Kind::String:
      return "string";
    case Kind::Path:
      return "string";
    case Kind::Enum:
      return "enum";
    case Kind::IntegerList:
      return "integer list";
    case Kind::StringList:
      return "string list";
  }
  return "?";
}

std::string show(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::string> closest(const std::string& name,
                                 const std::vector<std::string>& candidates) {
  // A typo changes a few characters; allow more in long names, never enough to rewrite a short one.
  std::size_t best = std::max<std::size_t>(2, name.size() / 3) + 1;
  std::vector<std::string> out;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(lower(name), lower(c));
    if (d >= c.size()) continue;
    if (d < best) {
      best = d;
      out.clear();
    }
    if (d == best) out.push_back(c);
  }
  return out;
}

std::string did_you_mean(const std::vector<std::string>& options) {
  if (options.empty()) return "";
  return " (did you mean " + join(options, " or ") + "?)";
}

Json parse_text(Kind kind, const std::string& text) {
  const std::string t = trim(text);
  switch (kind) {
    case Kind::Integer:
      return parse_integer(t).value_or(Json(t));
    case Kind::Number:
      return parse_number(t).value_or(Json(t));
    case Kind::Boolean: {
      const std::string b = lower(t);
      if (b == "true" || b == "1" || b == "yes" || b == "on") return Json(true);
      if (b == "false" || b == "0" || b == "no" || b == "off") return Json(false);
      return Json(t);
    }
    case Kind::String:
    case Kind::Path:
      return Json(text);  // spaces may be meant
    case Kind::Enum:
      return Json(t);
    case Kind::IntegerList:
    case Kind::StringList: {
      if (t.empty()) return Json::array();
      if (t.front() == '[') {
        Json parsed = Json::parse(t, nullptr, /*allow_exceptions=*/false);
        return parsed.is_discarded() ? Json(t) : parsed;
      }
      Json list = Json::array();
      for (const auto& part : split_commas(t)) {
        if (kind == Kind::StringList) {
          list.push_back(part);
        } else if (auto i = parse_integer(part)) {
          list.push_back(*i);
        } else {
          return Json(t);
        }
      }
      return list;
    }
  }
  return Json(t);
}

}  // namespace latentcast::project::schema
