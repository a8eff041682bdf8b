// The attention backends on a GPU (label gpu; skipped without CUDA): the LibTorch-operator backends
// give on CUDA what they give on the CPU, forward and gradients; sage on CUDA tensors runs our
// kernel in a CUDA build and is refused with the reason backends prints otherwise, never run as
// something else. Our flash and sage kernels have their own tests (test_flash_gpu.cpp,
// test_sage_gpu.cpp).
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <string>

#include "model/attention/attention.h"
#include "model/attention/availability.h"
#include "model/device.h"
#include "tests/support/check.h"

using namespace latentcast;

TEST_CASE("math, sliced, linear, channel and local window agree between CUDA and the CPU") {
  torch::manual_seed(5);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor q = torch::randn({3, 2, 100, 40}, f64),
                      k = torch::randn({3, 2, 100, 40}, f64),
                      v = torch::randn({3, 2, 100, 40}, f64),
                      w = torch::randn({3, 2, 100, 40}, f64);
  const torch::Tensor temperature = torch::tensor({0.8, 1.3}, f64);
  for (const auto backend :
       {AttentionBackend::Math, AttentionBackend::Sliced, AttentionBackend::Linear,
        AttentionBackend::Channel, AttentionBackend::LocalWindow}) {
    AttentionSettings s;
    s.backend = backend;
    s.slice_size = 33;
    s.window_size = 4;
    s.window_overlap = 1;
    const auto run = [&](torch::Device device) {
      const torch::Tensor qd = q.to(device).requires_grad_(), kd = k.to(device).requires_grad_(),
                          vd = v.to(device).requires_grad_();
      const AttentionLayout layout{10, 10, temperature.to(device)};
      const torch::Tensor out = attention(qd, kd, vd, s, layout);
      auto g = torch::autograd::grad({(out * w.to(device)).sum()}, {qd, kd, vd});
      return std::vector<torch::Tensor>{out.cpu(), g[0].cpu(), g[1].cpu(), g[2].cpu()};
    };
    const auto gpu = run(torch::Device(torch::kCUDA, 0));
    const auto cpu = run(torch::kCPU);
    for (int i = 0; i < 4; ++i) {
      const double err = (gpu[i] - cpu[i]).abs().max().item<double>();
      if (!(err < 1e-9))
        lctest::report(__FILE__, __LINE__,
                       std::string(to_string(backend)) + " part " + std::to_string(i) +
                           " differs by " + std::to_string(err));
    }
  }
}

TEST_CASE(
    "sage on CUDA tensors runs our kernel where it is built, else is refused with the reason") {
  const torch::Tensor x = torch::randn({1, 1, 16, 32}, torch::TensorOptions().device(torch::kCUDA));
  AttentionSettings s;
  s.backend = AttentionBackend::Sage;
  const Availability a = backend_availability(AttentionBackend::Sage, detect_devices(), true, 32);
#if LATENTCAST_WITH_CUDA
  EXPECT(a.available);
  const torch::Tensor out = attention(x, x, x, s);
  EXPECT(out.is_cuda() && out.sizes() == x.sizes());
#else
  EXPECT(!a.available);
  EXPECT_THROWS_WITH(attention(x, x, x, s), std::invalid_argument, a.reason.c_str());
#endif
}

int main(int argc, char** argv) {
  if (!detect_devices().cuda_available) {
    std::fprintf(stderr, "skipped: %s\n", detect_devices().reason.c_str());
    return 77;
  }
  return lctest::run_all(argc, argv);
}
