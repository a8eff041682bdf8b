// Device detection on any machine: the report is coherent whether or not CUDA is present.
#include "model/device.h"

#include <stdexcept>

#include "tests/support/check.h"

using namespace latentcast;

TEST_CASE("report names the LibTorch version") {
  const DeviceReport r = detect_devices();
  EXPECT(!r.torch_version.empty());
  EXPECT(r.torch_version.find('.') != std::string::npos);
}

TEST_CASE("availability and reason agree") {
  const DeviceReport r = detect_devices();
  if (r.cuda_available) {
    EXPECT(r.cuda_compiled);
    EXPECT(!r.gpus.empty());
  } else {
    EXPECT(!r.reason.empty());
    EXPECT(r.gpus.empty() || !r.cuda_compiled);
  }
  if (!r.cuda_compiled) EXPECT(r.reason.find("without CUDA") != std::string::npos);
}

TEST_CASE("round trip without a GPU says why") {
  const DeviceReport r = detect_devices();
  if (r.cuda_available) SKIP("a GPU is present; test_gpu_device covers the round trip");
  EXPECT_THROWS_WITH(round_trip_through_gpu(0, 16), std::runtime_error, r.reason.c_str());
}

LCTEST_MAIN
