// Command-line arguments of one latentcast-cli command: options with values (repeatable ones kept
// in order), flags, and a clear UsageError for anything unknown or malformed.
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace latentcast::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `valued`: options that take a value (e.g. "--csv"); `flags`: options without one (e.g.
  // "--json").
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
       const std::set<std::string>& flags);

  bool has(const std::string& option) const {
    return values_.count(option) || flags_.count(option);
  }
  bool flag(const std::string& option) const { return flags_.count(option) > 0; }
  // The last value of an option, or `fallback`.
  std::string value(const std::string& option, const std::string& fallback = {}) const;
  // The value of a required option; UsageError naming it when absent.
  std::string required(const std::string& option) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> all(const std::string& option) const;
  // An integer option within [lo, hi]; UsageError naming the option otherwise.
  long long integer(const std::string& option, long long fallback, long long lo,
                    long long hi) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
};

}  // namespace latentcast::cli
