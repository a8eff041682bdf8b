#include "estimator/model_graph.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace latentcast::estimator {
namespace {

std::int64_t groups_of(std::int64_t channels) {  // model/nn/layers.h group_norm
  std::int64_t g = std::clamp<std::int64_t>(channels / 4, 1, 32);
  while (channels % g != 0) --g;
  return g;
}

// The parameters added to `g` since index `first`: a module's list.
std::vector<int> params_since(const Graph& g, std::size_t first) {
  std::vector<int> out;
  for (std::size_t p = first; p < g.param_count(); ++p) out.push_back(int(p));
  return out;
}

struct Conv {
  int w = -1, b = -1;
  std::int64_t in = 0, out = 0, stride = 1;
  Conv() = default;
  Conv(Graph& g, std::int64_t cin, std::int64_t cout, std::int64_t k, std::int64_t s = 1,
       Cat cat = Cat::Weights)
      : w(g.add_param(cout * cin * k * k, cat)),
        b(g.add_param(cout, cat)),
        in(cin),
        out(cout),
        stride(s) {}
  // x: [B, in, side, side] -> [B, out, side / stride, side / stride]
  V operator()(Graph& g, const V& x, std::int64_t batch, std::int64_t side) const {
    const std::int64_t o = (side + stride - 1) / stride;
    return g.conv(x, w, b, batch * out * o * o);
  }
};

struct Norm {
  int w = -1, b = -1;
  std::int64_t ch = 0;
  Norm() = default;
  Norm(Graph& g, std::int64_t c, Cat cat = Cat::Weights)
      : w(g.add_param(c, cat)), b(g.add_param(c, cat)), ch(c) {}
  V operator()(Graph& g, const V& x, std::int64_t batch) const {
    return g.group_norm(x, w, b, batch * groups_of(ch));
  }
};

struct Linear {
  int w = -1, b = -1;
  std::int64_t in = 0, out = 0;
  Linear() = default;
  Linear(Graph& g, std::int64_t i, std::int64_t o, Cat cat = Cat::Weights)
      : w(g.add_param(i * o, cat)), b(g.add_param(o, cat)), in(i), out(o) {}
  V operator()(Graph& g, const V& x, std::int64_t rows) const {
    return g.linear(x, w, b, rows * out);
  }
};

// ---------------------------------------------------------------- VAE (model/nn/vae.cpp)

struct VaeRes {
  Norm n1;
  Conv c1;
  Norm n2;
  Conv c2;
  std::int64_t ch = 0;
  VaeRes() = default;
  VaeRes(Graph& g, std::int64_t c) : n1(g, c), c1(g, c, c, 3), n2(g, c), c2(g, c, c, 3), ch(c) {}
  V operator()(Graph& g, const V& x, std::int64_t b, std::int64_t side) const {
    V h = c1(g, g.silu(n1(g, x, b)), b, side);
    h = c2(g, g.silu(n2(g, h, b)), b, side);
    return g.add(x, h);
  }
};

struct Vae {
  std::vector<std::int64_t> ch;
  std::int64_t latent = 4, factor = 4;
  Conv enc_in, enc_out, dec_in, dec_out;
  std::vector<VaeRes> enc_res, dec_res;
  std::vector<Conv> enc_down, dec_up;
  VaeRes enc_mid, dec_mid;
  Norm enc_norm, dec_norm;
  std::vector<int> params;

  Vae(Graph& g, std::int64_t base, std::int64_t c, std::int64_t f) : latent(c), factor(f) {
    const std::size_t first = g.param_count();
    ch = {base};
    for (std::int64_t k = f; k > 1; k /= 2) ch.push_back(std::min(2 * ch.back(), 4 * base));
    const std::size_t levels = ch.size() - 1;
    enc_in = Conv(g, 3, ch[0], 3);
    for (std::size_t i = 0; i < levels; ++i) {
      enc_res.emplace_back(g, ch[i]);
      enc_down.emplace_back(g, ch[i], ch[i + 1], 3, 2);
    }
    enc_mid = VaeRes(g, ch[levels]);
    enc_norm = Norm(g, ch[levels]);
    enc_out = Conv(g, ch[levels], 2 * c, 3);
    dec_in = Conv(g, c, ch[levels], 3);
    dec_mid = VaeRes(g, ch[levels]);
    for (std::size_t i = levels; i-- > 0;) {
      dec_up.emplace_back(g, ch[i + 1], ch[i], 3);
      dec_res.emplace_back(g, ch[i]);
    }
    dec_norm = Norm(g, ch[0]);
    dec_out = Conv(g, ch[0], 3, 3);
    params = params_since(g, first);
  }

  // images [B, 3, S, S] -> moments [B, 2c, S/f, S/f]
  V encode(Graph& g, V x, std::int64_t b, std::int64_t side) const {
    x = enc_in(g, x, b, side);
    for (std::size_t i = 0; i < enc_res.size(); ++i) {
      x = enc_res[i](g, x, b, side);
      x = enc_down[i](g, x, b, side);
      side /= 2;
    }
    x = enc_mid(g, x, b, side);
    x = g.silu(enc_norm(g, x, b));
    return enc_out(g, x, b, side);
  }

  V decode(Graph& g, V z, std::int64_t b, std::int64_t side) const {
    V x = dec_in(g, z, b, side);
    x = dec_mid(g, x, b, side);
    for (std::size_t i = 0; i < dec_up.size(); ++i) {
      const std::int64_t up = side * 2;
      // Nearest upsampling saves nothing; its backward allocates the input's gradient.
      x = g.op({x}, x.numel * 4, x.dtype, {});
      x = dec_up[i](g, x, b, up);
      x = dec_res[i](g, x, b, up);
      side = up;
    }
    x = g.silu(dec_norm(g, x, b));
    return dec_out(g, x, b, side);
  }
};

// ---------------------------------------------------------------- views (model/views.cpp)

// ViewEncoder::encode of `b` segments of length t: the three views stacked, [B, 3, S, S]. The
// largest transient is the pairwise distance map [B, t, t] next to the SEG and GAF images.
V encode_views(Graph& g, std::int64_t b, std::int64_t t, std::int64_t s) {
  g.use_blas();  // the SEG view is two batched matmuls
  V seg = g.input(b * s * s, Dtype::F32), gaf = g.input(b * s * s, Dtype::F32);
  V rp;
  {
    const V dist = g.input(b * t * t, Dtype::F32);
    const V scaled = g.input(b * t * t, Dtype::F32);
    rp = g.input(b * s * s, Dtype::F32);
  }
  return g.input(3 * b * s * s, Dtype::F32);
}

// ---------------------------------------------------------------- UNet (model/nn/unet.cpp)

struct Attn {  // SelfAttention or CrossAttention
  Norm norm;
  Conv qkv, q, proj;
  Linear kv;
  int temperature = -1;
  std::int64_t ch = 0;
  bool cross = false;
};

struct Res {
  Norm n1, n2;
  Conv c1, c2, skip;
  Linear time;
  std::int64_t in = 0, out = 0;
  bool has_skip = false;
};

struct Unit {
  Res res;
  bool attend = false, cross = false;
  Attn attn, xattn;
};

class Unet {
 public:
  Unet(Graph& g, const ProjectConfig& cfg, AttentionBackend backend, bool concat, bool context,
       Cat cat)
      : cfg_(cfg), backend_(backend), cat_(cat) {
    const auto& m = cfg.model;
    levels_ = static_cast<int>(m.channels.size());
    std::vector<bool> attend(levels_, false);
    for (int l : m.attention_levels)
      if (l >= 0 && l < levels_) attend[l] = true;
    context_dim_ = context ? 64 : 0;  // Forecaster::kContextDim
    const std::int64_t c0 = m.channels[0], time_dim = 4 * c0;
    const std::size_t first = g.param_count();
    fc1_ = Linear(g, c0, time_dim, cat);
    fc2_ = Linear(g, time_dim, time_dim, cat);
    conv_in_ = Conv(g, m.latent_channels * (concat ? 2 : 1), c0, 3, 1, cat);
    std::vector<std::int64_t> skips{c0};
    std::int64_t ch = c0;
    down_.resize(levels_);
    for (int l = 0; l < levels_; ++l) {
      for (int r = 0; r < 2; ++r) {
        down_[l].units.push_back(unit(g, ch, m.channels[l], attend[l]));
        ch = m.channels[l];
        skips.push_back(ch);
      }
      if (l + 1 < levels_) {
        down_[l].resample = Conv(g, ch, ch, 3, 2, cat);
        down_[l].has_resample = true;
        skips.push_back(ch);
      }
    }
    mid_unit_ = unit(g, ch, ch, true);
    mid_res_ = res(g, ch, ch);
    up_.resize(levels_);
    for (int l = levels_ - 1; l >= 0; --l) {
      for (int r = 0; r < 3; ++r) {
        up_[l].units.push_back(unit(g, ch + skips.back(), m.channels[l], attend[l]));
        skips.pop_back();
        ch = m.channels[l];
      }
      if (l > 0) {
        up_[l].resample = Conv(g, ch, ch, 3, 1, cat);
        up_[l].has_resample = true;
      }
    }
    norm_out_ = Norm(g, ch, cat);
    conv_out_ = Conv(g, ch, m.latent_channels, 3, 1, cat);
    params = params_since(g, first);
  }

  std::vector<int> params;

  // x [B, c, h, h]; cond [B, c, h, h] or empty; context [B, M, 64] or empty.
  V forward(Graph& g, const V& x, const V& cond, const V& context, std::int64_t b,
            std::int64_t side, std::vector<Estimate::Block>* blocks) {
    blocks_ = blocks;
    const auto& m = cfg_.model;
    const std::int64_t c0 = m.channels[0];
    V temb;
    {
      // The sinusoidal embedding is computed from t without grad; the MLP is differentiable.
      const V emb = g.input(b * c0, Dtype::F32);
      temb = fc2_(g, g.silu(fc1_(g, emb, b)), b);
    }
    V h = cond.storage ? g.op_alias_grad({x, cond}, x.numel + cond.numel, x.dtype) : x;
    h = conv_in_(g, h, b, side);
    std::vector<std::pair<V, std::int64_t>> skips{{h, side}};
    for (int l = 0; l < levels_; ++l) {
      for (const Unit& u : down_[l].units) {
        h = run_unit(g, u, h, temb, context, b, side, "down" + std::to_string(l));
        skips.push_back({h, side});
      }
      if (down_[l].has_resample) {
        h = down_[l].resample(g, h, b, side);
        side /= 2;
        skips.push_back({h, side});
      }
    }
    h = run_unit(g, mid_unit_, h, temb, context, b, side, "middle");
    h = run_res(g, mid_res_, h, temb, b, side, "middle");
    for (int l = levels_ - 1; l >= 0; --l) {
      for (const Unit& u : up_[l].units) {
        const V& skip = skips.back().first;
        V joined = g.op_alias_grad({h, skip}, h.numel + skip.numel,
                                   h.dtype == skip.dtype ? h.dtype : Dtype::F32);
        skips.pop_back();
        h = run_unit(g, u, joined, temb, context, b, side, "up" + std::to_string(l));
      }
      if (up_[l].has_resample) {
        h = g.op({h}, h.numel * 4, h.dtype, {});  // nearest 2x
        side *= 2;
        h = up_[l].resample(g, h, b, side);
      }
    }
    return conv_out_(g, g.silu(norm_out_(g, h, b)), b, side);
  }

 private:
  struct Level {
    std::vector<Unit> units;
    Conv resample;
    bool has_resample = false;
  };

  Res res(Graph& g, std::int64_t in, std::int64_t out) {
    Res r;
    r.in = in;
    r.out = out;
    r.n1 = Norm(g, in, cat_);
    r.c1 = Conv(g, in, out, 3, 1, cat_);
    r.time = Linear(g, 4 * cfg_.model.channels[0], out, cat_);
    r.n2 = Norm(g, out, cat_);
    r.c2 = Conv(g, out, out, 3, 1, cat_);
    if (in != out) {
      r.skip = Conv(g, in, out, 1, 1, cat_);
      r.has_skip = true;
    }
    return r;
  }

  Attn self_attn(Graph& g, std::int64_t ch) {
    Attn a;
    a.ch = ch;
    a.norm = Norm(g, ch, cat_);
    a.qkv = Conv(g, ch, 3 * ch, 1, 1, cat_);
    a.proj = Conv(g, ch, ch, 1, 1, cat_);
    if (backend_ == AttentionBackend::Channel) a.temperature = g.add_param(cfg_.model.heads, cat_);
    return a;
  }

  Attn cross_attn(Graph& g, std::int64_t ch) {
    Attn a;
    a.ch = ch;
    a.cross = true;
    a.norm = Norm(g, ch, cat_);
    a.q = Conv(g, ch, ch, 1, 1, cat_);
    a.kv = Linear(g, context_dim_, 2 * ch, cat_);
    a.proj = Conv(g, ch, ch, 1, 1, cat_);
    return a;
  }

  Unit unit(Graph& g, std::int64_t in, std::int64_t out, bool attend) {
    Unit u;
    u.res = res(g, in, out);
    u.attend = attend;
    if (attend) {
      u.attn = self_attn(g, out);
      if (context_dim_ > 0) {
        u.cross = true;
        u.xattn = cross_attn(g, out);
      }
    }
    return u;
  }

  double dropout() const { return cfg_.model.dropout; }

  V res_forward(Graph& g, const Res& r, const V& x, const V& temb, std::int64_t b,
                std::int64_t side) const {
    V h = r.c1(g, g.silu(r.n1(g, x, b)), b, side);
    {
      const V t = r.time(g, g.silu(temb), b);  // [B, out], broadcast over the map
      h = g.add(h, t);
    }
    h = g.silu(r.n2(g, h, b));
    if (dropout() > 0) h = g.dropout(h);
    h = r.c2(g, h, b, side);
    if (r.has_skip) return g.add(r.skip(g, x, b, side), h);
    return g.add(x, h);
  }

  V run_res(Graph& g, const Res& r, const V& x, const V& temb, std::int64_t b, std::int64_t side,
            const std::string& name) {
    const std::int64_t before = g.sim().current();
    V out;
    if (cfg_.memory.gradient_checkpointing != CheckpointMode::All) {
      out = res_forward(g, r, x, temb, b, side);
    } else {
      out = g.checkpoint({x, temb}, [this, &r, b, side](Graph& gg, const std::vector<V>& in) {
        return res_forward(gg, r, in[0], in[1], b, side);
      });
    }
    note(name + " res", g.sim().current() - before);
    return out;
  }

  // The attention of `q` [B, heads, N, d] against k, v [B, heads, M, d] by the backend, returning
  // [B, heads, N, d]; `qkv_base` is the tensor q, k, v are views of (for the saved views).
  V attend(Graph& g, AttentionBackend backend, const V& q, const V& k, const V& v, std::int64_t b,
           std::int64_t n, std::int64_t m, std::int64_t d, std::int64_t side,
           int temperature) const {
    const std::int64_t heads = cfg_.model.heads;
    const std::int64_t bh = b * heads;
    const Dtype type = q.dtype;
    switch (backend) {
      case AttentionBackend::Math:
      case AttentionBackend::Auto:
        return math(g, q, k, v, bh, n, m, d);
      case AttentionBackend::Sliced: {
        // Forward: one query slice at a time (scores and softmax of the slice); saves q, k, v.
        const std::int64_t s = std::min<std::int64_t>(cfg_.memory.slice_size, n);
        const std::int64_t slice_scores = bh * s * m * 4;
        const std::int64_t bwd = 3 * slice_scores + (type == Dtype::F32 ? 0 : 3 * bh * n * d * 4);
        return g.op({q, k, v}, bh * n * d, type, {q, k, v}, Cat::Attention, 2 * slice_scores, bwd);
      }
      case AttentionBackend::Flash:
      case AttentionBackend::Sage:
      case AttentionBackend::Sdpa: {
        // Contiguous copies of q, k, v, the output and the fp32 log-sum-exp are saved; the
        // backward holds dO and D besides dQ, dK, dV. Our CUDA kernels (flash, sage) compute in
        // 16 bits (float32 runs in bf16 copies, attention.h) and their backward (the flash one for
        // both) adds the fp32 dQ accumulator. The CPU sage reference also saves its INT8 copies
        // and per-block scales; the CUDA sage kernel keeps its INT8 copies (padded to the kernel's
        // head dim), block scales, K mean and per-row smoothing term only through the forward.
        std::vector<V> saved;
        const bool cuda_kernel =
            (backend == AttentionBackend::Flash || backend == AttentionBackend::Sage) &&
            g.rules().cuda;
        const bool cpu_kernel = backend != AttentionBackend::Sdpa && !cuda_kernel;
        const Dtype kt = cuda_kernel ? (type == Dtype::F32 ? Dtype::BF16 : type)
                         : cpu_kernel && type != Dtype::F32 ? Dtype::F32
                                                            : type;
        V qc = g.input(q.numel, kt, Cat::Attention), kc = g.input(k.numel, kt, Cat::Attention),
          vc = g.input(v.numel, kt, Cat::Attention);
        V lse = g.input(bh * n, Dtype::F32, Cat::Attention);
        saved = {qc, kc, vc, lse};
        std::int64_t fwd_temp = 0;
        const std::int64_t q_blocks = (n + 63) / 64, k_blocks = (m + 63) / 64;
        if (backend == AttentionBackend::Sage && cuda_kernel) {
          fwd_temp = sage_cuda_forward_workspace(bh, n, m, d, g.rules().hopper);
        } else if (backend == AttentionBackend::Sage) {
          saved.push_back(g.input(q.numel, Dtype::I8, Cat::Attention));
          saved.push_back(g.input(k.numel, Dtype::I8, Cat::Attention));
          saved.push_back(g.input(bh * q_blocks, Dtype::F32, Cat::Attention));
          saved.push_back(g.input(bh * k_blocks, Dtype::F32, Cat::Attention));
          fwd_temp = (q.numel + 2 * k.numel) * 4;  // fp32 scaled q, k and smoothed k
        }
        if (cuda_kernel && kt != type) saved.push_back(g.input(q.numel, kt, Cat::Attention));  // O
        // The backward's D = rowsum(dO * O), its gradient buffers and (CUDA) the fp32 dQ
        // accumulator; CUDA sage also rebuilds the smoothed K the forward's LSE was of
        // (sage_cuda.cpp) and keeps K's mean.
        std::int64_t bwd = q.numel * dtype_bytes(kt) + bh * n * 4 + (cuda_kernel ? q.numel * 4 : 0);
        if (backend == AttentionBackend::Sage && cuda_kernel) {
          bwd += k.numel * dtype_bytes(kt);
          saved.push_back(g.input(bh * d, Dtype::F32, Cat::Attention));
        }
        V out = g.op({q, k, v}, q.numel, type, saved, Cat::Attention, fwd_temp, bwd);
        return out;
      }
      case AttentionBackend::Linear: {
        const V fq = g.op({q}, q.numel, Dtype::F32, {}, Cat::Attention);
        const V fk = g.op({k}, k.numel, Dtype::F32, {}, Cat::Attention);
        const V eq = g.op({fq}, q.numel, Dtype::F32, {fq}, Cat::Attention);  // elu saves result
        const V ek = g.op({fk}, k.numel, Dtype::F32, {fk}, Cat::Attention);
        const V kv = g.op({ek, v}, bh * d * d, Dtype::F32, {ek, v}, Cat::Attention);
        const V ks = g.op({ek}, bh * d, Dtype::F32, {}, Cat::Attention);
        const V norm = g.op({eq, ks}, bh * n, Dtype::F32, {eq, ks}, Cat::Attention);
        const V num = g.op({eq, kv}, bh * n * d, Dtype::F32, {eq, kv}, Cat::Attention);
        return g.op({num, norm}, bh * n * d, Dtype::F32, {num, norm}, Cat::Attention);
      }
      case AttentionBackend::Channel: {
        const V qn = g.op({q}, q.numel, Dtype::F32, {q}, Cat::Attention);
        const V kn = g.op({k}, k.numel, Dtype::F32, {k}, Cat::Attention);
        V temp = g.param(temperature);
        const V scores = g.op({qn, kn}, bh * d * d, Dtype::F32, {qn, kn}, Cat::Attention);
        const V scaled = g.op({scores, temp}, bh * d * d, Dtype::F32, {scores}, Cat::Attention);
        const V p = g.softmax(scaled, Dtype::F32);
        const V o = g.op({p, v}, bh * n * d, Dtype::F32, {p, v}, Cat::Attention);
        return o;
      }
      case AttentionBackend::LocalWindow: {
        const auto starts = [](std::int64_t len, std::int64_t w, std::int64_t o) {
          if (len <= w) return std::int64_t{1};
          std::int64_t count = 0;
          for (std::int64_t s = 0; s + w < len; s += w - o) ++count;
          return count + 1;
        };
        const std::int64_t w = std::min<std::int64_t>(cfg_.memory.window_size, side);
        const std::int64_t nw = starts(side, cfg_.memory.window_size, cfg_.memory.window_overlap);
        const std::int64_t tokens = w * w, gathered = bh * nw * nw * tokens * d;
        const V gq = g.view(g.op({q}, gathered, type, {}, Cat::Attention), gathered, true);
        const V gk = g.view(g.op({k}, gathered, type, {}, Cat::Attention), gathered, true);
        const V gv = g.view(g.op({v}, gathered, type, {}, Cat::Attention), gathered, true);
        const V o = math(g, gq, gk, gv, bh * nw * nw, tokens, tokens, d);
        const V weighted = g.op({o}, gathered, type, {}, Cat::Attention);
        const V sum = g.op({weighted}, bh * n * d, type, {}, Cat::Attention);
        return g.op({sum}, bh * n * d, type, {}, Cat::Attention);
      }
    }
    return math(g, q, k, v, bh, n, m, d);
  }

  // model/attention/attention.cpp math_attention.
  V math(Graph& g, const V& q, const V& k, const V& v, std::int64_t bh, std::int64_t n,
         std::int64_t m, std::int64_t d) const {
    const V qs = g.op({q}, q.numel, q.dtype, {}, Cat::Attention);  // q * scale
    V scores = g.matmul(qs, k, bh * n * m);
    const V p = g.softmax(scores, Dtype::F32);
    scores = V();
    const V pv = g.cast(p, v.dtype, Cat::Attention);
    return g.matmul(pv, v, bh * n * d);
  }

  V attn_forward(Graph& g, const Attn& a, const V& x, const V& context, std::int64_t b,
                 std::int64_t side) const {
    const std::int64_t n = side * side, heads = cfg_.model.heads, d = a.ch / heads;
    V o;
    if (!a.cross) {
      V qkv = a.qkv(g, a.norm(g, x, b), b, side);
      const V q = g.view(qkv, b * n * a.ch, true), k = g.view(qkv, b * n * a.ch, true),
              v = g.view(qkv, b * n * a.ch, true);
      qkv = V();
      o = attend(g, backend_, q, k, v, b, n, n, d, side, a.temperature);
    } else {
      const std::int64_t tokens = context.numel / (b * context_dim_);
      const V q = a.q(g, a.norm(g, x, b), b, side);
      V kv = a.kv(g, context, b * tokens);
      const V k = g.view(kv, b * tokens * a.ch, true), v = g.view(kv, b * tokens * a.ch, true);
      kv = V();
      AttentionBackend cross = backend_;
      if (cross == AttentionBackend::Channel || cross == AttentionBackend::LocalWindow)
        cross = AttentionBackend::Sliced;
      o = attend(g, cross, q, k, v, b, n, tokens, d, side, -1);
    }
    // heads_to_image: permute + reshape copies; its gradient passes through.
    const V image = g.op_alias_grad({o}, o.numel, o.dtype);
    o = V();
    return g.add(x, a.proj(g, image, b, side));
  }

  V run_unit(Graph& g, const Unit& u, const V& x, const V& temb, const V& context, std::int64_t b,
             std::int64_t side, const std::string& name) {
    V h = run_res(g, u.res, x, temb, b, side, name);
    const CheckpointMode mode = cfg_.memory.gradient_checkpointing;
    for (const Attn* a : {u.attend ? &u.attn : nullptr, u.cross ? &u.xattn : nullptr}) {
      if (!a) continue;
      const std::int64_t before = g.sim().current();
      if (mode == CheckpointMode::None) {
        h = attn_forward(g, *a, h, context, b, side);
      } else {
        std::vector<V> in{h};
        if (a->cross) in.push_back(context);
        h = g.checkpoint(in, [this, a, b, side](Graph& gg, const std::vector<V>& args) {
          return attn_forward(gg, *a, args[0], args.size() > 1 ? args[1] : V(), b, side);
        });
      }
      note(name + (a->cross ? " cross-attention" : " attention"), g.sim().current() - before);
    }
    return h;
  }

  void note(const std::string& name, std::int64_t bytes) {
    if (!blocks_) return;
    for (auto& blk : *blocks_)
      if (blk.name == name) {
        blk.bytes += bytes;
        return;
      }
    blocks_->push_back({name, bytes});
  }

  const ProjectConfig& cfg_;
  AttentionBackend backend_;
  Cat cat_;
  int levels_ = 0;
  std::int64_t context_dim_ = 0;
  Linear fc1_, fc2_;
  Conv conv_in_, conv_out_;
  std::vector<Level> down_, up_;
  Unit mid_unit_;
  Res mid_res_;
  Norm norm_out_;
  std::vector<Estimate::Block>* blocks_ = nullptr;
};

// HistoryTokens (model/nn/history_tokens.cpp): patch and spectrum projections, positions.
struct Tokens {
  Linear patch, spectrum;
  int position = -1;
  std::int64_t patches = 0;
  std::vector<int> params;
  Tokens(Graph& g, std::int64_t lookback, Cat cat) : patches((lookback + 7) / 8) {
    const std::size_t first = g.param_count();
    patch = Linear(g, 8, 64, cat);
    spectrum = Linear(g, lookback / 2 + 1, 64, cat);
    position = g.add_param(patches * 64, cat);
    params = params_since(g, first);
  }
  V forward(Graph& g, std::int64_t b, std::int64_t lookback) const {
    V patches_out;
    {
      const V padded = g.input(b * patches * 8, Dtype::F32);
      const V proj = patch(g, padded, b * patches);
      patches_out = g.add(proj, g.param(position));
    }
    V spectral;
    {
      const V spectrum_in = g.input(b * (lookback / 2 + 1), Dtype::F32);
      spectral = spectrum(g, spectrum_in, b);
    }
    return g.op_alias_grad({patches_out, spectral}, b * (patches + 1) * 64, patches_out.dtype);
  }
};

// AdamW (LibTorch): exp_avg and exp_avg_sq per parameter, allocated at the first step; each
// parameter's update holds two temporaries of its size (sqrt and the denominator).
// The replay runs one step of each stage in the steady state, i.e. with this state present (the
// first real step has none yet, so it never peaks higher).
struct AdamW {
  std::vector<StoragePtr> state;
  AdamW(Graph& g, const std::vector<int>& params) {
    for (int p : params) {
      state.push_back(g.sim().alloc(g.param_numel(p) * 4, Cat::Optimizer));
      state.push_back(g.sim().alloc(g.param_numel(p) * 4, Cat::Optimizer));
    }
  }
  static void step(Graph& g, const std::vector<int>& params) {
    std::int64_t largest = 0;
    for (int p : params) largest = std::max(largest, g.param_numel(p) * 4);
    g.sim().spike(2 * largest, Cat::Temporary);
  }
};

void zero_grad(Graph& g, const std::vector<int>& params) {
  for (int p : params) g.param_grad(p).reset();
}

}  // namespace

std::int64_t sage_cuda_forward_workspace(std::int64_t bh, std::int64_t n, std::int64_t m,
                                         std::int64_t d, bool hopper) {
  const std::int64_t dp = d <= 32 && !hopper ? 32 : d <= 64 ? 64 : 128;
  const std::int64_t q_blocks = (n + 63) / 64, k_blocks = (m + 63) / 64;
  return bh * (n + m) * dp                          // INT8 Q and K
         + 4 * bh * (q_blocks + k_blocks + d + n);  // scales, K mean, smoothing term
}

ReplayResult replay_training(const ProjectConfig& cfg, AttentionBackend backend,
                             const DataSize& data, const DeviceRules& rules) {
  ReplayResult result;
  Sim sim(rules.cuda, rules.expandable_segments);
  Graph g(sim, rules);
  const auto& m = cfg.model;
  const std::int64_t S = m.image_size, f = m.latent_factor, c = m.latent_channels, side = S / f,
                     L = cfg.dataset.lookback, H = cfg.dataset.horizon;
  const std::int64_t M = data.train_segments;
  const std::int64_t B =
      std::max<std::int64_t>(1, std::min<std::int64_t>(cfg.memory.batch_size, M));
  const std::int64_t latent = c * side * side;
  const bool concat = m.conditioning != Conditioning::CrossAttention;
  const bool context = m.conditioning != Conditioning::Concat;

  // ---- the data on the device (on the CPU it was there before the model) and the model ----
  sim.set_phase("model build");
  std::vector<StoragePtr> segments;
  if (rules.cuda)
    for (const std::int64_t n : {M * L, M * H, data.val_segments * L, data.val_segments * H})
      segments.push_back(sim.alloc(n * 4, Cat::Data));
  Vae vae(g, std::max<std::int64_t>(16, m.channels.front() / 2), c, f);
  Unet unet(g, cfg, backend, concat, context, Cat::Weights);
  Unet ema(g, cfg, backend, concat, context, Cat::Ema);
  std::unique_ptr<Tokens> tokens, ema_tokens;
  if (context) {
    tokens = std::make_unique<Tokens>(g, L, Cat::Weights);
    ema_tokens = std::make_unique<Tokens>(g, L, Cat::Ema);
  }
  std::vector<int> denoiser = unet.params;
  if (tokens) denoiser.insert(denoiser.end(), tokens->params.begin(), tokens->params.end());
  for (int p : ema.params) g.set_trainable(p, false);
  if (ema_tokens)
    for (int p : ema_tokens->params) g.set_trainable(p, false);
  for (int p : denoiser) result.parameters += g.param_numel(p);
  for (int p : vae.params) result.vae_parameters += g.param_numel(p);

  // ---- stage 1: the VAE on 2B view images per step ----
  {
    const AdamW opt(g, vae.params);
    {
      sim.set_phase("VAE step: forward");
      zero_grad(g, vae.params);
      V loss;
      {
        V images;
        {
          const V idx = g.input(B, Dtype::I64);
          const V hist = g.input(B * L, Dtype::F32), fut = g.input(B * H, Dtype::F32);
          const V hv = encode_views(g, B, L, S), fv = encode_views(g, B, H, S);
          images = g.input(2 * B * 3 * S * S, Dtype::F32);
        }
        const std::int64_t b2 = 2 * B;
        V moments = vae.encode(g, images, b2, S);
        const V mu = g.view(moments, b2 * latent), lv_view = g.view(moments, b2 * latent);
        moments = V();
        const V logvar = g.op({lv_view}, b2 * latent, Dtype::F32, {lv_view});  // clamp
        V recon;
        {
          const V half_lv = g.op({logvar}, b2 * latent, Dtype::F32, {});
          const V sigma = g.op({half_lv}, b2 * latent, Dtype::F32, {});
          const V sigma_saved = g.view(sigma, sigma.numel);
          const V eps = g.input(b2 * latent, Dtype::F32);
          const V noise = g.op({sigma_saved, eps}, b2 * latent, Dtype::F32, {eps, sigma});
          const V z = g.add(mu, noise);
          recon = vae.decode(g, z, b2, side);
        }
        const V recon_loss = g.mse_loss(recon, images);
        recon = V();
        V kl;
        {
          const V mu2 = g.op({mu}, mu.numel, Dtype::F32, {mu});
          const V ex = g.op({logvar}, mu.numel, Dtype::F32, {});
          const V a = g.add(g.add(g.add(logvar, mu2), ex), mu2);
          kl = g.op({a}, 1, Dtype::F32, {}, Cat::Temporary);
        }
        loss = g.add(recon_loss, kl);
      }
      sim.set_phase("VAE step: backward");
      g.backward(loss);
      sim.set_phase("VAE step: optimizer");
      AdamW::step(g, vae.params);
    }
    zero_grad(g, vae.params);
  }
  for (int p : vae.params) g.set_trainable(p, false);
  // Without grad, in chunks of 2B (trainer.cpp encode_all): the latent-scale probe over up to
  // 2048 training segments, then the reconstruction check on up to 512 validation segments.
  g.set_grad_enabled(false);
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(2 * B, M));
  const auto encode_chunk = [&](std::int64_t rows, std::int64_t length) {
    V latents;
    {
      const V images = encode_views(g, rows, length, S);
      const V moments = vae.encode(g, images, rows, S);
      latents = g.input(rows * latent, Dtype::F32);
    }
    return latents;
  };
  {
    sim.set_phase("VAE check");
    const V probe = g.input(std::min<std::int64_t>(M, 2048) * latent, Dtype::F32);
    encode_chunk(chunk, H);
  }
  {
    const V images = encode_views(g, chunk, H, S);
    const V moments = vae.encode(g, images, chunk, S);
    const V recon = vae.decode(g, g.input(chunk * latent, Dtype::F32), chunk, side);
  }
  g.set_grad_enabled(true);
  result.vae_stage_peak = sim.peak();
  const Bytes vae_breakdown = sim.at_peak();
  const std::string vae_phase = sim.peak_phase();
  sim.reset_peak();

  // ---- latents: the caches are allocated whole, then filled chunk by chunk ----
  g.set_grad_enabled(false);
  sim.set_phase("latent caching");
  std::vector<StoragePtr> cache;
  if (cfg.memory.latent_caching) {
    cache.push_back(sim.alloc(M * latent * 4, Cat::Data));  // history latents
    cache.push_back(sim.alloc(M * latent * 4, Cat::Data));  // future latents
    encode_chunk(chunk, H);
  }
  const std::int64_t V_ = std::min<std::int64_t>(data.val_segments, 512);
  if (V_ > 0) {
    cache.push_back(sim.alloc(V_ * L * 4, Cat::Data));           // validation histories
    cache.push_back(sim.alloc(2 * V_ * latent * 4, Cat::Data));  // their latents
    encode_chunk(std::min(chunk, V_), H);
    cache.push_back(sim.alloc(V_ * 8, Cat::Data));           // timesteps
    cache.push_back(sim.alloc(V_ * latent * 4, Cat::Data));  // noise
  }
  g.set_grad_enabled(true);

  // ---- stage 2: the denoiser ----
  const bool autocast = rules.autocast;
  const AdamW opt(g, denoiser);
  const StoragePtr perm = sim.alloc(M * 8, Cat::Data);
  {
    std::vector<Estimate::Block> blocks;
    V loss;
    {
      sim.set_phase("diffusion step: forward");
      zero_grad(g, denoiser);
      const V hist = g.input(B * L, Dtype::F32);
      V zh, z0;
      if (cfg.memory.latent_caching) {
        zh = g.input(B * latent, Dtype::F32);
        z0 = g.input(B * latent, Dtype::F32);
      } else {
        g.set_grad_enabled(false);
        zh = encode_chunk(B, L);
        z0 = encode_chunk(B, H);
        g.set_grad_enabled(true);
      }
      const V t = g.input(B, Dtype::I64);
      const V noise = g.input(B * latent, Dtype::F32);
      const V x_t = g.input(B * latent, Dtype::F32);
      const V target =
          m.prediction == Prediction::Epsilon ? noise : g.input(B * latent, Dtype::F32);
      V out;
      {
        g.set_autocast(autocast);
        V ctx;
        if (tokens) ctx = tokens->forward(g, B, L);
        out = unet.forward(g, x_t, concat ? zh : V(), ctx, B, side, &blocks);
        out = g.cast(out, Dtype::F32);
        loss = g.mse_loss(out, target);
        g.set_autocast(false);
      }
    }
    sim.set_phase("diffusion step: backward");
    g.backward(loss);
    loss = V();
    sim.set_phase("diffusion step: optimizer");
    AdamW::step(g, denoiser);
    result.blocks = blocks;
  }
  // Validation: the EMA denoiser without grad on chunks of B.
  {
    sim.set_phase("validation");
    g.set_grad_enabled(false);
    g.set_autocast(autocast);
    V x = g.input(B * latent, Dtype::F32), cond = g.input(B * latent, Dtype::F32);
    V ctx;
    if (ema_tokens) ctx = ema_tokens->forward(g, B, L);
    const V out = ema.forward(g, x, concat ? cond : V(), ctx, B, side, nullptr);
    g.set_autocast(false);
    g.set_grad_enabled(true);
  }
  result.diffusion_stage_peak = sim.peak();
  result.reserved = sim.reserved();
  const bool vae_higher = result.vae_stage_peak > result.diffusion_stage_peak;
  result.peak = vae_higher ? result.vae_stage_peak : result.diffusion_stage_peak;
  result.breakdown = vae_higher ? vae_breakdown : sim.at_peak();
  result.peak_phase = vae_higher ? vae_phase : sim.peak_phase();
  return result;
}

}  // namespace latentcast::estimator
