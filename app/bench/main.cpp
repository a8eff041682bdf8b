// latentcast-bench: timings of the parts whose speed matters, one subcommand each.
#include <cstdio>
#include <cstring>

#include "app/bench/bench.h"
#include "model/device.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* usage;
};

const Subcommand kSubcommands[] = {
    {"csv", latentcast::bench::bench_csv,
     "csv [--rows N] [--cols N] [--dir DIR] [--json]   read_csv vs a getline/stod peer"},
    {"attention", latentcast::bench::bench_attention,
     "attention [--device cpu|cuda] [--shapes \"B,H,N,d;...\"] [--dtype float32,bfloat16] [--pass "
     "fwd,fwdbwd]\n"
     "            [--backends math,flash,...,sdpa_cudnn] [--min-seconds S] [--json]   every "
     "attention backend"},
    {"estimator", latentcast::bench::bench_estimator,
     "estimator --project P [--device cpu|cuda] [--steps N] [--only TEXT] [--max-error F]\n"
     "            [--allocator expandable|classic] [--jobs N] [--recorded F.json] [--json]   "
     "estimate vs measured peak over a grid"},
#if LATENTCAST_BENCH_GUI
    {"gui", latentcast::bench::bench_gui,
     "gui [--steps N] [--dir D] [--json]   GUI-thread responsiveness while training"},
#endif
};

int usage() {
  std::fprintf(stderr, "usage: latentcast-bench SUBCOMMAND [options]\n\nsubcommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(stderr, "  %s\n", s.usage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  latentcast::configure_cuda_allocator();  // before any CUDA work
  if (argc < 2) return usage();
  for (const Subcommand& s : kSubcommands)
    if (std::strcmp(argv[1], s.name) == 0) return s.run(argc - 1, argv + 1);
  std::fprintf(stderr, "latentcast-bench: unknown subcommand '%s'\n", argv[1]);
  return usage();
}
