// The networks: UNet shapes across configurations, equal outputs and gradients for every
// checkpointing mode, checkpoint keys; VAE shapes and learning on toy images; history tokens.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "model/nn/unet.h"
#include "model/nn/vae.h"
#include "tests/support/check.h"

using latentcast::CheckpointMode;
using latentcast::nn::HistoryTokens;
using latentcast::nn::Unet;
using latentcast::nn::UnetOptions;
using latentcast::nn::Vae;
using latentcast::nn::VaeOptions;

namespace {

using Shape = std::vector<int64_t>;

UnetOptions small_unet(std::vector<int64_t> channels, std::vector<int64_t> attention_levels,
                       int64_t cond, int64_t context_dim) {
  UnetOptions o;
  o.channels = std::move(channels);
  o.attention_levels = std::move(attention_levels);
  o.heads = 2;
  o.cond_channels = cond;
  o.context_dim = context_dim;
  return o;
}

void copy_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  const torch::NoGradGuard no_grad;
  auto dst = to.named_parameters();
  for (const auto& p : from.named_parameters()) dst[p.key()].copy_(p.value());
}

int64_t count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Autograd nodes of our checkpoint function in the graph behind `out`.
int checkpoint_nodes(const torch::Tensor& out) {
  std::vector<torch::autograd::Node*> stack{out.grad_fn().get()};
  std::unordered_set<torch::autograd::Node*> seen;
  int n = 0;
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (!node || !seen.insert(node).second) continue;
    if (node->name().find("CheckpointFunction") != std::string::npos) ++n;
    for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
  }
  return n;
}

}  // namespace

TEST_CASE("unet output shapes across levels, attention levels, cond and context") {
  struct Config {
    UnetOptions o;
    int64_t side;
  };
  std::vector<Config> configs = {
      {small_unet({8, 16}, {1}, 2, 0), 8},        {small_unet({8, 16}, {0, 1}, 0, 6), 8},
      {small_unet({8, 16, 16}, {0, 2}, 0, 6), 8}, {small_unet({8, 16, 32}, {}, 4, 6), 16},
      {small_unet({8, 8, 16}, {1}, 4, 0), 4},
  };
  configs[3].o.out_channels = 3;
  torch::manual_seed(0);
  for (const auto& c : configs) {
    Unet net(c.o);
    const int64_t b = 2;
    const torch::Tensor x = torch::randn({b, c.o.in_channels, c.side, c.side});
    const torch::Tensor t = torch::randint(0, 1000, {b}, torch::kLong);
    const torch::Tensor cond = c.o.cond_channels > 0
                                   ? torch::randn({b, c.o.cond_channels, c.side, c.side})
                                   : torch::Tensor();
    const torch::Tensor ctx =
        c.o.context_dim > 0 ? torch::randn({b, 5, c.o.context_dim}) : torch::Tensor();
    const torch::Tensor y = net->forward(x, t, cond, ctx);
    EXPECT_EQ(y.sizes().vec(), (Shape{b, c.o.out_channels, c.side, c.side}));
    EXPECT(torch::isfinite(y).all().item<bool>());
  }
}

TEST_CASE("unet refuses bad settings and inputs with clear messages") {
  UnetOptions o = small_unet({8, 12}, {1}, 0, 0);
  o.heads = 5;
  EXPECT_THROWS_WITH(Unet(o), c10::Error,
                     "heads (5) must divide the channels (12) at attention level 1");
  o = small_unet({8, 16}, {2}, 0, 0);
  EXPECT_THROWS_WITH(Unet(o), c10::Error, "attention level 2 outside 0..1");
  o = small_unet({8, 16}, {1}, 0, 0);
  o.attention.backend = latentcast::AttentionBackend::Auto;
  EXPECT_THROWS_WITH(Unet(o), c10::Error, "resolve the attention backend");

  Unet net(small_unet({8, 16, 16}, {1}, 2, 0));
  const torch::Tensor t = torch::zeros({1});
  EXPECT_THROWS_WITH(net->forward(torch::randn({1, 4, 6, 6}), t, torch::randn({1, 2, 6, 6}), {}),
                     c10::Error, "must be divisible by 4");
  EXPECT_THROWS_WITH(net->forward(torch::randn({1, 4, 8, 8}), t, {}, {}), c10::Error,
                     "expected a condition with 2 channels");
}

TEST_CASE("checkpointing none / attention / all: same outputs and gradients") {
  const UnetOptions base = small_unet({8, 16}, {0, 1}, 2, 6);
  std::vector<Unet> nets;
  for (const auto mode : {CheckpointMode::None, CheckpointMode::Attention, CheckpointMode::All}) {
    UnetOptions o = base;
    o.dropout = 0.1;
    o.checkpointing = mode;
    nets.emplace_back(o);
    nets.back()->to(torch::kFloat64);
  }
  // Zero-initialised residual outputs would leave many gradients exactly zero; perturb all.
  torch::manual_seed(21);
  {
    const torch::NoGradGuard no_grad;
    for (auto& p : nets[0]->parameters()) p.add_(0.2 * torch::randn_like(p));
  }
  copy_parameters(*nets[0], *nets[1]);
  copy_parameters(*nets[0], *nets[2]);

  torch::manual_seed(22);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor x0 = torch::randn({2, 4, 8, 8}, f64), cond = torch::randn({2, 2, 8, 8}, f64),
                      ctx0 = torch::randn({2, 5, 6}, f64), w = torch::randn({2, 4, 8, 8}, f64);
  const torch::Tensor t = torch::tensor({3, 700}, torch::kLong);

  struct Run {
    torch::Tensor out, x_grad, ctx_grad;
    std::vector<torch::Tensor> grads;
    int checkpointed = 0;
  };
  const auto run = [&](Unet& net, std::uint64_t seed) {
    net->train();
    net->zero_grad();
    const torch::Tensor x = x0.clone().requires_grad_(true),
                        ctx = ctx0.clone().requires_grad_(true);
    torch::manual_seed(seed);
    const torch::Tensor out = net->forward(x, t, cond, ctx);
    const int checkpointed = checkpoint_nodes(out);
    (out * w).sum().backward();
    Run r{out.detach(), x.grad(), ctx.grad(), {}, checkpointed};
    for (const auto& p : net->parameters()) r.grads.push_back(p.grad().clone());
    return r;
  };

  const Run ref = run(nets[0], 7);
  // Both levels attend: 4 (down) + 1 (middle) + 6 (up) units, each with self- and cross-attention;
  // "all" adds the units' residual blocks and the middle's second one.
  const int expected_nodes[] = {0, 2 * 11, 2 * 11 + 11 + 1};
  EXPECT_EQ(ref.checkpointed, expected_nodes[0]);
  // Dropout is active: another seed gives another output.
  EXPECT(max_diff(run(nets[0], 8).out, ref.out) > 1e-6);
  for (std::size_t m = 1; m < nets.size(); ++m) {
    const Run r = run(nets[m], 7);
    EXPECT_EQ(r.checkpointed, expected_nodes[m]);
    EXPECT_NEAR(max_diff(r.out, ref.out), 0.0, 1e-10);
    EXPECT_NEAR(max_diff(r.x_grad, ref.x_grad), 0.0, 1e-6);
    EXPECT_NEAR(max_diff(r.ctx_grad, ref.ctx_grad), 0.0, 1e-6);
    REQUIRE(r.grads.size() == ref.grads.size());
    int missing = 0;
    double worst = 0;
    for (std::size_t i = 0; i < r.grads.size(); ++i) {
      if (!r.grads[i].defined() || !ref.grads[i].defined()) {
        ++missing;
        continue;
      }
      worst = std::max(worst, max_diff(r.grads[i], ref.grads[i]));
    }
    EXPECT_EQ(missing, 0);
    EXPECT_NEAR(worst, 0.0, 1e-6);
  }
}

TEST_CASE("unet parameters are registered: save and load reproduce the output") {
  UnetOptions o = small_unet({8, 16}, {1}, 2, 6);
  torch::manual_seed(4);
  Unet a(o), b(o);
  {
    const torch::NoGradGuard no_grad;
    for (auto& p : a->parameters()) p.add_(0.1 * torch::randn_like(p));
  }
  std::stringstream buffer;
  torch::save(a, buffer);
  torch::load(b, buffer);
  a->eval();
  b->eval();
  const torch::Tensor x = torch::randn({1, 4, 8, 8}), cond = torch::randn({1, 2, 8, 8}),
                      ctx = torch::randn({1, 3, 6}), t = torch::tensor({10});
  EXPECT_NEAR(max_diff(a->forward(x, t, cond, ctx), b->forward(x, t, cond, ctx)), 0.0, 0.0);
  const auto names = a->named_parameters().keys();
  const auto has = [&](const std::string& key) {
    for (const auto& n : names)
      if (n == key) return true;
    return false;
  };
  EXPECT(has("conv_in.weight"));
  EXPECT(has("down.1.units.0.attn.qkv.weight"));
  EXPECT(has("down.1.units.1.cross.kv.weight"));
  EXPECT(has("down.0.downsample.weight"));
  EXPECT(has("middle.unit.attn.proj.weight"));
  EXPECT(has("up.1.upsample_conv.weight"));
  EXPECT(has("up.0.units.2.res.skip.weight"));
  EXPECT(!has("down.0.units.0.attn.qkv.weight"));  // level 0 has no attention here
}

TEST_CASE("parameter counts of the default configurations") {
  const int64_t unet = count(*Unet(UnetOptions{}));
  VaeOptions vo;
  vo.base_channels = 32;
  const int64_t vae = count(*Vae(vo));
  std::fprintf(stderr, "  default UNet: %lld parameters; VAE (base 32, f 4): %lld parameters\n",
               static_cast<long long>(unet), static_cast<long long>(vae));
  EXPECT(unet > 1000000 && unet < 50000000);
  EXPECT(vae > 100000 && vae < 10000000);
}

TEST_CASE("vae shapes for f = 1, 2, 4, 8") {
  torch::manual_seed(0);
  for (const int64_t f : {1, 2, 4, 8}) {
    VaeOptions o;
    o.base_channels = 8;
    o.factor = f;
    Vae vae(o);
    const torch::Tensor images = torch::randn({2, 3, 16, 16});
    const auto out = vae->forward(images);
    const Shape latent{2, 4, 16 / f, 16 / f};
    EXPECT_EQ(out.recon.sizes().vec(), (Shape{2, 3, 16, 16}));
    EXPECT_EQ(out.mu.sizes().vec(), latent);
    EXPECT_EQ(out.logvar.sizes().vec(), latent);
    EXPECT_EQ(vae->encode_mean(images).sizes().vec(), latent);
    EXPECT_EQ(vae->decode(out.mu).sizes().vec(), (Shape{2, 3, 16, 16}));
  }
  VaeOptions bad;
  bad.factor = 3;
  EXPECT_THROWS_WITH(Vae(bad), c10::Error, "factor must be 1, 2, 4 or 8");
  Vae vae(VaeOptions{});
  EXPECT_THROWS_WITH(vae->forward(torch::randn({1, 3, 10, 10})), c10::Error,
                     "divisible by the factor 4");
}

TEST_CASE("vae reconstruction improves on toy sine images") {
  torch::manual_seed(3);
  const int64_t n = 64, s = 16;
  // Plane waves with random integer frequencies and phases, one phase shift per channel.
  const torch::Tensor a = torch::randint(1, 4, {n, 1, 1, 1}).to(torch::kFloat32);
  const torch::Tensor b = torch::randint(0, 3, {n, 1, 1, 1}).to(torch::kFloat32);
  const torch::Tensor phase = 2 * M_PI * torch::rand({n, 1, 1, 1});
  const torch::Tensor ch = torch::arange(3, torch::kFloat32).reshape({1, 3, 1, 1});
  const torch::Tensor i = torch::arange(s, torch::kFloat32).reshape({1, 1, s, 1});
  const torch::Tensor j = torch::arange(s, torch::kFloat32).reshape({1, 1, 1, s});
  const torch::Tensor images =
      torch::sin(2 * M_PI * (a * i + b * j) / s + phase + ch);  // [n, 3, s, s]

  VaeOptions o;
  o.base_channels = 8;
  o.factor = 4;
  Vae vae(o);
  const auto recon_mse = [&] {
    const torch::NoGradGuard no_grad;
    return torch::mse_loss(vae->decode(vae->encode_mean(images)), images).item<double>();
  };
  const double initial = recon_mse();
  torch::optim::Adam opt(vae->parameters(), torch::optim::AdamOptions(2e-3));
  const auto start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const auto loss = latentcast::nn::vae_loss(vae->forward(images), images, 1e-4);
    loss.total.backward();
    opt.step();
    last_loss = loss.recon_mse;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double final = recon_mse();
  std::fprintf(stderr, "  VAE recon MSE %.4f -> %.4f (last train %.4f) in %.1f s\n", initial, final,
               last_loss, seconds);
  EXPECT(final < 0.5 * initial);
}

TEST_CASE("history tokens: one per 8 steps (left-padded) plus one spectral token") {
  torch::manual_seed(0);
  for (const int64_t L : {96, 20, 8, 3}) {
    HistoryTokens tokens(L, 16);
    const torch::Tensor h = torch::randn({3, L});
    const torch::Tensor out = tokens->forward(h);
    EXPECT_EQ(out.sizes().vec(), (Shape{3, (L + 7) / 8 + 1, 16}));
    // The spectral token ignores the level of the series (its mean is removed).
    const torch::Tensor shifted = tokens->forward(h + 5.0);
    EXPECT_NEAR(max_diff(out.select(1, -1), shifted.select(1, -1)), 0.0, 1e-4);
  }
  HistoryTokens tokens(20, 16);
  EXPECT_EQ(tokens->named_parameters().size(), static_cast<std::size_t>(5));
  EXPECT_THROWS_WITH(tokens->forward(torch::randn({2, 21})), c10::Error, "expects [B, 20]");
}

LCTEST_MAIN
