// The project document (.lcproj): a JSON file holding everything a user sets and the history of
// runs. Loading fills defaults for missing keys and validates every field, naming it by its dotted
// path.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "estimator/config.h"

namespace latentcast::project {

inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kExtension = ".lcproj";

// A project file or setting that is not acceptable. what() is one line naming the file and/or the
// field: "demo.lcproj: memory.batch_size: must be an integer >= 1, got \"four\"".
class ProjectError : public std::runtime_error {
 public:
  ProjectError(std::string file, std::string field, const std::string& message);
  const std::string& file() const { return file_; }
  const std::string& field() const {
    return field_;
  }  // dotted path, empty when about the whole file

 private:
  std::string file_;
  std::string field_;
};

// One settable field of the document, for listings, help and the GUI.
struct FieldInfo {
  std::string path;  // dotted, e.g. "memory.batch_size"
  std::string
      kind;  // "integer", "number", "boolean", "string", "enum", "integer list", "string list"
  std::string allowed;        // human-readable constraint: ">= 1", "math|sliced|...", "0 <= x < 1"
  std::string default_value;  // JSON text
};
const std::vector<FieldInfo>& fields();

// Parses a document from JSON text. `file` names it in messages; `base_dir` resolves relative paths
// (dataset.path, run checkpoints) to absolute ones; an empty base_dir leaves them as written.
// Throws ProjectError.
ProjectConfig from_json_text(const std::string& text, const std::string& file,
                             const std::string& base_dir);
// Serialises a document; paths are written relative to `base_dir` where they lie below or beside it
// (an empty base_dir writes them unchanged).
std::string to_json_text(const ProjectConfig& config, const std::string& base_dir);

// Loads and validates a file. Throws ProjectError (unreadable, not JSON, truncated, bad field,
// newer schema_version).
ProjectConfig load(const std::string& path);
// Writes atomically: a temporary file in the same folder, flushed, then renamed over `path`; on any
// failure the previous file is untouched and ProjectError is thrown.
void save(const ProjectConfig& config, const std::string& path);

// Applies "key=value" with key a dotted path of fields(); the value is parsed for the field's kind
// (lists as "a,b,c" or JSON arrays) and checked like that field in the file. Relations between
// fields are not checked here (call validate(), or use apply_overrides). Throws ProjectError naming
// the key; on failure `config` is unchanged.
void apply_override(ProjectConfig& config, const std::string& assignment);
// Applies every assignment, then validates the whole configuration, so the order of the flags does
// not matter. On failure `config` is unchanged.
void apply_overrides(ProjectConfig& config, const std::vector<std::string>& assignments);

// Validates a whole in-memory configuration (e.g. after GUI edits); throws ProjectError on the
// first bad field. Also checks relations between fields (image_size divisible by latent_factor,
// attention levels within the number of levels, split fractions summing below 1).
void validate(const ProjectConfig& config);

// The default project for a CSV: every numeric column in, the given targets out.
ProjectConfig make_default(const std::string& csv_path,
                           const std::vector<std::string>& numeric_columns,
                           const std::vector<std::string>& targets, const std::string& date_column);

// The built-in demo project (resources/demo/demo.lcproj, embedded), its dataset the generated
// series.
ProjectConfig demo_project();

}  // namespace latentcast::project
