// The field table of the project document: one entry per setting drives reading, writing,
// validation, the fields() listing and --set overrides, so that they cannot drift apart. Private to
// app/project.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimator/config.h"

namespace latentcast::project::schema {

// ordered_json keeps keys in insertion order: run metrics round-trip in file order, and documents
// are written section by section in the order of the table.
using Json = nlohmann::ordered_json;

enum class Kind { Integer, Number, Boolean, String, Path, Enum, IntegerList, StringList };

struct FieldSpec {
  std::string path;  // dotted JSON path, e.g. "memory.batch_size"
  Kind kind;
  std::string allowed;   // the constraint in words for listings: ">= 1", "math|sliced|..."
  std::string expected;  // what a value must be, for messages: "an integer >= 1 and <= 65536"
  std::function<Json(const ProjectConfig&)> get;
  std::function<bool(const Json&)> accepts;                // type and constraint of a JSON value
  std::function<void(ProjectConfig&, const Json&)> store;  // only for values that `accepts`

  // "must be an integer >= 1 and <= 65536, got \"four\"".
  std::string error_for(const Json& value) const;
};

// Every settable field, in document order.
const std::vector<FieldSpec>& table();
// The field with this dotted path, or nullptr.
const FieldSpec* find(const std::string& path);
// "integer", "number", ... as listed in FieldInfo::kind.
const char* kind_name(Kind kind);

// A non-negative whole JSON number (integral floats such as 8.0 or 1e3 included), or nullopt.
std::optional<std::uint64_t> whole_number(const Json& v);

// A value as JSON text for messages; invalid UTF-8 is replaced instead of throwing.
std::string show(const Json& value);
// The candidates closest to a mistyped name by edit distance (ties all returned), or none when
// nothing is close enough to be a plausible typo.
std::vector<std::string> closest(const std::string& name,
                                 const std::vector<std::string>& candidates);
// " (did you mean a or b?)", or "" for no options.
std::string did_you_mean(const std::vector<std::string>& options);

// Parses command-line text for a field of `kind`. Text that does not parse for the kind becomes a
// JSON string, so that the field's usual message reports it: `must be an integer >= 1, got "four"`.
Json parse_text(Kind kind, const std::string& text);

}  // namespace latentcast::project::schema
