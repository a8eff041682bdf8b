// latentcast-cli: the headless twin of the GUI (DESIGN.md section 7). Maps every failure to one
// clear message on stderr and an exit code; nothing escapes as a crash.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/project/project.h"
#include "model/data/csv.h"
#include "model/device.h"
#include "model/engine.h"

namespace {

using namespace latentcast::cli;

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* usage;
};

const Command kCommands[] = {
    {"inspect", cmd_inspect, "inspect  --csv FILE [--date-column NAME] [--json]"},
    {"new", cmd_new,
     "new      --csv FILE --out P.lcproj [--target COL]... [--lookback L --horizon H] "
     "[--set key=value]... [--force]"},
    {"validate", cmd_validate, "validate --project P [--set key=value]... [--json]"},
    {"demo", cmd_demo, "demo     --out DIR [--rows N]   (writes the demo series and project)"},
    {"train", cmd_train,
     "train    --project P [--steps N | --epochs N] [--device cpu|cuda|auto] [--metrics "
     "FILE.jsonl] "
     "[--resume CHECKPOINT] [--set key=value]... [--quiet]"},
    {"estimate", cmd_estimate,
     "estimate --project P [--device cpu|cuda|auto] [--gpu PRESET | --capacity BYTES] "
     "[--set key=value]... [--recommend] [--json]"},
    {"measure", cmd_measure,
     "measure  --project P [--steps N] [--device cpu|cuda|auto] [--set key=value]... [--json]"},
    {"forecast", cmd_forecast,
     "forecast --project P [--checkpoint C] [--samples K] [--origin ROW] [--seed S] [--out "
     "FILE.csv] "
     "[--device D] [--set key=value]..."},
    {"evaluate", cmd_evaluate,
     "evaluate --project P [--checkpoint C] [--split val|test] [--samples K] [--max-windows N] "
     "[--device D] [--json] [--set key=value]..."},
    {"settings", cmd_settings, "settings [--json]              (every project setting for --set)"},
    {"devices", cmd_devices, "devices  [--json]              (LibTorch, CUDA and GPUs seen here)"},
    {"backends", cmd_backends,
     "backends [--device cpu|cuda|auto] [--head-dim D] [--json]   (attention backends: available, "
     "or why not)"},
};

void usage(std::FILE* to) {
  std::fprintf(to, "usage: latentcast-cli COMMAND [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(to, "  %s\n", c.usage);
  std::fprintf(to,
               "\nexit codes: 0 ok, 2 bad input or usage, 3 device or memory, 1 internal error\n");
}

}  // namespace

int main(int argc, char** argv) {
  latentcast::configure_cuda_allocator();  // before any CUDA work
  if (argc < 2) {
    usage(stderr);
    return kExitBadInput;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return kExitOk;
  }
  if (name == "--version") {
    std::printf("latentcast-cli %s\n", LATENTCAST_VERSION);
    return kExitOk;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(args);
    } catch (const UsageError& e) {
      std::fprintf(stderr, "latentcast-cli %s: %s\nusage: latentcast-cli %s\n", c.name, e.what(),
                   c.usage);
      return kExitBadInput;
    } catch (const latentcast::engine::EngineError& e) {
      std::fprintf(stderr, "latentcast-cli %s: %s\n", c.name, e.what());
      switch (e.kind()) {
        case latentcast::engine::ErrorKind::BadInput:
          return kExitBadInput;
        case latentcast::engine::ErrorKind::Device:
        case latentcast::engine::ErrorKind::OutOfMemory:
          return kExitDevice;
        case latentcast::engine::ErrorKind::Internal:
          return kExitInternal;
      }
      return kExitInternal;
    } catch (const latentcast::data::CsvError& e) {
      std::fprintf(stderr, "latentcast-cli %s: %s\n", c.name, e.what());
      return kExitBadInput;
    } catch (const latentcast::project::ProjectError& e) {
      std::fprintf(stderr, "latentcast-cli %s: %s\n", c.name, e.what());
      return kExitBadInput;
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "latentcast-cli %s: %s\n", c.name, e.what());
      return kExitBadInput;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "latentcast-cli %s: out of memory\n", c.name);
      return kExitDevice;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "latentcast-cli %s: internal error: %s\n", c.name, e.what());
      return kExitInternal;
    }
  }
  std::fprintf(stderr, "latentcast-cli: unknown command '%s'\n", name.c_str());
  usage(stderr);
  return kExitBadInput;
}
