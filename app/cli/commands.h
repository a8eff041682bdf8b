// latentcast-cli commands. Each returns the process exit code (DESIGN.md section 7): 0 success,
// 2 bad input or usage, 3 out of memory or device unavailable, 1 internal error.
#pragma once

#include <string>
#include <vector>

namespace latentcast::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitDevice = 3;

int cmd_inspect(const std::vector<std::string>& args);
int cmd_new(const std::vector<std::string>& args);
int cmd_validate(const std::vector<std::string>& args);
int cmd_demo(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_estimate(const std::vector<std::string>& args);
int cmd_measure(const std::vector<std::string>& args);
int cmd_forecast(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
int cmd_settings(const std::vector<std::string>& args);
int cmd_devices(const std::vector<std::string>& args);
int cmd_backends(const std::vector<std::string>& args);

}  // namespace latentcast::cli
