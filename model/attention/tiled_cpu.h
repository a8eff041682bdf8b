// The tiled attention kernel of the CPU `flash` and `sage` backends (internal to model/attention).
// One (batch x head) is a contiguous [N, d] block of q, k, v. The score tile is a policy:
// FloatScores for flash, Int8Scores (sage.cpp) for sage; everything else is shared.
//
// Forward (FlashAttention, Dao et al. 2022): per query tile, loop over key tiles keeping the
// running row maximum m, the running sum l and an unnormalised output; keep lse = m + log l per
// row. Backward (FlashAttention-2, Dao 2023): D = rowsum(dO * O); P is recomputed tile by tile from
// the saved lse, dS = P * (dO V^T - D). dK and dV are summed per key tile (pass 1, parallel over
// key tiles), dQ per query tile (pass 2, parallel over query tiles), so no two threads write the
// same rows and no N x N tensor exists: extra memory is O(N) plus one tile per thread.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace latentcast::tiled {

constexpr std::int64_t kQueryTile = 64;
constexpr std::int64_t kKeyTile = 64;

struct Shape {
  std::int64_t heads_total;  // B x heads
  std::int64_t n;            // queries
  std::int64_t m;            // keys
  std::int64_t d;            // head dim
};

// Transposes rows [j0, j0 + nj) of a [rows, d] matrix into t[c * nj + j], so that a tile product
// runs as axpy updates along j, which the compiler vectorises (a dot product along d would be a
// serial floating-point reduction it may not reorder).
template <typename T>
void transpose_rows(const T* x, std::int64_t nj, std::int64_t d, std::vector<T>& t) {
  t.resize(std::size_t(nj * d));
  for (std::int64_t j = 0; j < nj; ++j)
    for (std::int64_t c = 0; c < d; ++c) t[std::size_t(c * nj + j)] = x[j * d + c];
}

// out[i * kKeyTile + j] = scale * sum_c a[i * d + c] * bt[c * nj + j] for i < ni, j < nj.
template <typename T>
void tile_product(const T* a, const T* bt, std::int64_t ni, std::int64_t nj, std::int64_t d,
                  T scale, T* out) {
  for (std::int64_t i = 0; i < ni; ++i) {
    T* oi = out + i * kKeyTile;
    std::fill(oi, oi + nj, T(0));
    const T* ai = a + i * d;
    for (std::int64_t c = 0; c < d; ++c) {
      const T x = ai[c] * scale;
      const T* bc = bt + c * nj;
      for (std::int64_t j = 0; j < nj; ++j) oi[j] += x * bc[j];
    }
  }
}

// Scores of flash: scale * q . k over a tile, S[i * kKeyTile + j].
template <typename T>
struct FloatScores {
  const T* q;
  const T* k;
  Shape shape;
  T scale;

  void operator()(std::int64_t bh, std::int64_t i0, std::int64_t ni, std::int64_t j0,
                  std::int64_t nj, T* s) const {
    thread_local std::vector<T> kt;
    transpose_rows(k + (bh * shape.m + j0) * shape.d, nj, shape.d, kt);
    tile_product(q + (bh * shape.n + i0) * shape.d, kt.data(), ni, nj, shape.d, scale, s);
  }
};

// out [BH, N, d] and lse [BH, N] (natural log) from a score policy and v [BH, M, d].
template <typename T, typename Scores>
void forward(const Scores& scores, const T* v, T* out, T* lse, const Shape& sh) {
  const std::int64_t tiles = (sh.n + kQueryTile - 1) / kQueryTile, d = sh.d;
  at::parallel_for(0, sh.heads_total * tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> s(kQueryTile * kKeyTile), acc(kQueryTile * d), row_max(kQueryTile),
        row_sum(kQueryTile);
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t bh = task / tiles, i0 = (task % tiles) * kQueryTile;
      const std::int64_t ni = std::min(kQueryTile, sh.n - i0);
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(row_max.begin(), row_max.end(), -std::numeric_limits<T>::infinity());
      std::fill(row_sum.begin(), row_sum.end(), T(0));
      for (std::int64_t j0 = 0; j0 < sh.m; j0 += kKeyTile) {
        const std::int64_t nj = std::min(kKeyTile, sh.m - j0);
        scores(bh, i0, ni, j0, nj, s.data());
        for (std::int64_t i = 0; i < ni; ++i) {
          T* si = s.data() + i * kKeyTile;
          T tile_max = si[0];
          for (std::int64_t j = 1; j < nj; ++j) tile_max = std::max(tile_max, si[j]);
          const T new_max = std::max(row_max[i], tile_max);
          const T correction = std::exp(row_max[i] - new_max);  // 0 on the first tile (-inf)
          T sum = 0;
          for (std::int64_t j = 0; j < nj; ++j) {
            si[j] = std::exp(si[j] - new_max);
            sum += si[j];
          }
          row_sum[i] = row_sum[i] * correction + sum;
          row_max[i] = new_max;
          T* ai = acc.data() + i * d;
          for (std::int64_t c = 0; c < d; ++c) ai[c] *= correction;
          for (std::int64_t j = 0; j < nj; ++j) {
            const T p = si[j];
            const T* vj = v + (bh * sh.m + j0 + j) * d;
            for (std::int64_t c = 0; c < d; ++c) ai[c] += p * vj[c];
          }
        }
      }
      for (std::int64_t i = 0; i < ni; ++i) {
        const T inv = T(1) / row_sum[i];
        T* oi = out + (bh * sh.n + i0 + i) * d;
        const T* ai = acc.data() + i * d;
        for (std::int64_t c = 0; c < d; ++c) oi[c] = ai[c] * inv;
        lse[bh * sh.n + i0 + i] = row_max[i] + std::log(row_sum[i]);
      }
    }
  });
}

// One tile of the backward: P (from lse) and dS = P * (dO V^T - D) for queries i0.. and keys j0..,
// both [kQueryTile, kKeyTile].
template <typename T, typename Scores>
void probabilities_and_ds(const Scores& scores, const T* v, const T* dout, const T* lse,
                          const T* delta, const Shape& sh, std::int64_t bh, std::int64_t i0,
                          std::int64_t ni, std::int64_t j0, std::int64_t nj, T* p, T* ds) {
  const std::int64_t d = sh.d;
  scores(bh, i0, ni, j0, nj, p);
  thread_local std::vector<T> vt;
  transpose_rows(v + (bh * sh.m + j0) * d, nj, d, vt);
  tile_product(dout + (bh * sh.n + i0) * d, vt.data(), ni, nj, d, T(1), ds);  // dP = dO V^T
  for (std::int64_t i = 0; i < ni; ++i) {
    const T l = lse[bh * sh.n + i0 + i], di = delta[bh * sh.n + i0 + i];
    T* pi = p + i * kKeyTile;
    T* dsi = ds + i * kKeyTile;
    for (std::int64_t j = 0; j < nj; ++j) {
      pi[j] = std::exp(pi[j] - l);
      dsi[j] = pi[j] * (dsi[j] - di);
    }
  }
}

// Gradients of q, k, v (written, not accumulated). q and k are the unquantised inputs: the gradient
// flows straight through any quantisation inside the score policy. `scale` multiplies q . k.
template <typename T, typename Scores>
void backward(const Scores& scores, const T* q, const T* k, const T* v, const T* out, const T* dout,
              const T* lse, T* dq, T* dk, T* dv, const Shape& sh, T scale) {
  const std::int64_t d = sh.d;
  std::vector<T> delta(sh.heads_total * sh.n);
  at::parallel_for(0, sh.heads_total * sh.n, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      T sum = 0;
      for (std::int64_t c = 0; c < d; ++c) sum += dout[r * d + c] * out[r * d + c];
      delta[r] = sum;
    }
  });
  const std::int64_t q_tiles = (sh.n + kQueryTile - 1) / kQueryTile;
  const std::int64_t k_tiles = (sh.m + kKeyTile - 1) / kKeyTile;

  // Pass 1: dK and dV, one key tile per task.
  at::parallel_for(0, sh.heads_total * k_tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> p(kQueryTile * kKeyTile), ds(kQueryTile * kKeyTile);
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t bh = task / k_tiles, j0 = (task % k_tiles) * kKeyTile;
      const std::int64_t nj = std::min(kKeyTile, sh.m - j0);
      T* dkj = dk + (bh * sh.m + j0) * d;
      T* dvj = dv + (bh * sh.m + j0) * d;
      std::fill(dkj, dkj + nj * d, T(0));
      std::fill(dvj, dvj + nj * d, T(0));
      for (std::int64_t i0 = 0; i0 < sh.n; i0 += kQueryTile) {
        const std::int64_t ni = std::min(kQueryTile, sh.n - i0);
        probabilities_and_ds(scores, v, dout, lse, delta.data(), sh, bh, i0, ni, j0, nj, p.data(),
                             ds.data());
        for (std::int64_t i = 0; i < ni; ++i) {
          const T* doi = dout + (bh * sh.n + i0 + i) * d;
          const T* qi = q + (bh * sh.n + i0 + i) * d;
          for (std::int64_t j = 0; j < nj; ++j) {
            const T pij = p[i * kKeyTile + j], dsij = ds[i * kKeyTile + j] * scale;
            T* dvr = dvj + j * d;
            T* dkr = dkj + j * d;
            for (std::int64_t c = 0; c < d; ++c) dvr[c] += pij * doi[c];
            for (std::int64_t c = 0; c < d; ++c) dkr[c] += dsij * qi[c];
          }
        }
      }
    }
  });

  // Pass 2: dQ, one query tile per task.
  at::parallel_for(0, sh.heads_total * q_tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> p(kQueryTile * kKeyTile), ds(kQueryTile * kKeyTile);
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t bh = task / q_tiles, i0 = (task % q_tiles) * kQueryTile;
      const std::int64_t ni = std::min(kQueryTile, sh.n - i0);
      T* dqi0 = dq + (bh * sh.n + i0) * d;
      std::fill(dqi0, dqi0 + ni * d, T(0));
      for (std::int64_t j0 = 0; j0 < sh.m; j0 += kKeyTile) {
        const std::int64_t nj = std::min(kKeyTile, sh.m - j0);
        probabilities_and_ds(scores, v, dout, lse, delta.data(), sh, bh, i0, ni, j0, nj, p.data(),
                             ds.data());
        for (std::int64_t i = 0; i < ni; ++i) {
          T* dqr = dqi0 + i * d;
          for (std::int64_t j = 0; j < nj; ++j) {
            const T dsij = ds[i * kKeyTile + j] * scale;
            const T* kj = k + (bh * sh.m + j0 + j) * d;
            for (std::int64_t c = 0; c < d; ++c) dqr[c] += dsij * kj[c];
          }
        }
      }
    }
  });
}

}  // namespace latentcast::tiled
