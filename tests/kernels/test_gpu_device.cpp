// GPU detection and a tensor round trip through our CUDA kernel (label gpu; skipped without CUDA).
#include <torch/torch.h>

#include <cstdio>

#include "model/device.h"
#include "tests/support/check.h"

using namespace latentcast;

TEST_CASE("detects the GPU with name, compute capability and memory") {
  const DeviceReport r = detect_devices();
  REQUIRE(r.cuda_available);
  for (const GpuInfo& g : r.gpus) {
    std::fprintf(stderr,
                 "  cuda:%d %s, compute capability %d.%d, %lld MiB total, %lld MiB free, %d SMs\n",
                 g.index, g.name.c_str(), g.major, g.minor, (long long)(g.total_bytes >> 20),
                 (long long)(g.free_bytes >> 20), g.multiprocessors);
    EXPECT(!g.name.empty());
    EXPECT(g.major >= 3);
    EXPECT(g.total_bytes > (std::int64_t(1) << 30));
    EXPECT(g.free_bytes > 0 && g.free_bytes <= g.total_bytes);
    EXPECT(g.multiprocessors > 0);
  }
  // Our detection and LibTorch's agree on the device count.
  EXPECT_EQ(static_cast<std::size_t>(torch::cuda::device_count()), r.gpus.size());
}

TEST_CASE("a tensor goes to the GPU, through our kernel and back") {
  for (const std::int64_t n : {std::int64_t(1), std::int64_t(1000), std::int64_t(1) << 24}) {
    const RoundTrip rt = round_trip_through_gpu(0, n);
    EXPECT_EQ(rt.elements, n);
    EXPECT_EQ(rt.device, std::string("cuda:0"));
    EXPECT(rt.max_abs_error <= 1e-6);
    EXPECT(rt.torch_matches);
  }
}

int main(int argc, char** argv) {
  if (!detect_devices().cuda_available) {
    std::fprintf(stderr, "skipped: %s\n", detect_devices().reason.c_str());
    return 77;
  }
  return lctest::run_all(argc, argv);
}
