// Parsing of latentcast-cli options: "--name value", "--name=value" and flags.
#include "app/cli/args.h"

#include <charconv>

namespace latentcast::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
           const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    std::string name = argv[i];
    std::string inline_value;
    bool has_inline = false;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (valued.count(name)) {
      if (has_inline) {
        values_[name].push_back(inline_value);
      } else {
        if (i + 1 >= argv.size()) throw UsageError(name + ": missing value");
        values_[name].push_back(argv[++i]);
      }
    } else if (flags.count(name)) {
      if (has_inline) throw UsageError(name + ": takes no value");
      flags_.insert(name);
    } else if (name.rfind("-", 0) == 0) {
      throw UsageError(name + ": unknown option");
    } else {
      throw UsageError("unexpected argument '" + name + "'");
    }
  }
}

std::string Args::value(const std::string& option, const std::string& fallback) const {
  const auto it = values_.find(option);
  return it == values_.end() ? fallback : it->second.back();
}

std::string Args::required(const std::string& option) const {
  const auto it = values_.find(option);
  if (it == values_.end()) throw UsageError(option + " is required");
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& option) const {
  const auto it = values_.find(option);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::integer(const std::string& option, long long fallback, long long lo,
                        long long hi) const {
  const auto it = values_.find(option);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second.back();
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    throw UsageError(option + ": must be an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got \"" + text + "\"");
  return v;
}

}  // namespace latentcast::cli
