// Subcommands of latentcast-bench: each parses its own flags (argv[0] is the subcommand name) and
// returns the process exit code.
#pragma once

namespace latentcast::bench {

// Times read_csv on a generated file: --rows N, --cols N, --dir DIR, --json.
int bench_csv(int argc, char** argv);

}  // namespace latentcast::bench
