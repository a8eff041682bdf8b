// Subcommands of latentcast-bench: each parses its own flags (argv[0] is the subcommand name) and
// returns the process exit code.
#pragma once

namespace latentcast::bench {

// Times read_csv side by side with a naive getline/stod reader on one generated file, checking
// that both read the same numbers: --rows N, --cols N, --dir DIR, --json.
int bench_csv(int argc, char** argv);

// Times every attention backend (and LibTorch SDPA, pinned per backend on CUDA) on a list of
// shapes:
// --device, --shapes "B,H,N,d;...", --dtype, --pass, --backends, --min-seconds, --json.
int bench_attention(int argc, char** argv);

// The VRAM estimate against measured peaks over a grid of configurations: --project P (the data),
// --device cpu|cuda, --steps N, --only SUBSTRING, --max-error FRACTION (exit 1 above it), --json.
int bench_estimator(int argc, char** argv);

// With the GUI built: the longest gap between ticks of a GUI-thread timer while the Training tab
// trains (worker thread), beside the same run on the GUI thread: --steps N, --dir D, --json.
int bench_gui(int argc, char** argv);

}  // namespace latentcast::bench
