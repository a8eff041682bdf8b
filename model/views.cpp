// SEG, GAF and RP views of segments as batched tensor ops, the FFT period detector that picks the
// SEG fold, and the SEG read-back that turns a generated image into forecast values.
// Ref: Ruan et al. 2025, "Vision-Enhanced Time Series Forecasting via Latent Diffusion Models"
// (LDM4TS) for the three views; Wang & Oates 2015 for the Gramian angular summation field.
#include "model/views.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace latentcast {
namespace {

// A peak counts as a period when its magnitude exceeds kPeakRatio times the median magnitude of the
// non-zero frequencies. For white noise the per-bin magnitudes are Rayleigh distributed, where
// P(|X_k| > m * median) = 2^(-m^2): at m = 3 a spurious peak among ~1000 bins is likely (the
// largest of 1000 is typically ~3.2x the median), at m = 5 it has odds of about 1000 * 2^-25 =
// 3e-5.
constexpr double kPeakRatio = 5.0;

// Per-segment ranges below this (in the units of the segment, z-scores in practice) count as flat:
// GAF and RP of a flat segment are -1 everywhere instead of 0 / 0.
constexpr double kFlatRange = 1e-6;

// Relative cut-off for singular values in the pseudo-inverses (PyTorch's default); the maps are
// well conditioned, so it never cuts.
constexpr double kPinvRcond = 1e-15;

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// The bilinear (align_corners) resampling of `in` points onto `out` points as a matrix [out, in]:
// output i reads the source position i * (in - 1) / (out - 1), split between its two neighbours. It
// is torch::nn::functional::interpolate(align_corners = true) written as a linear map, so that it
// can be inverted. With in == 1 every output copies the single source value.
torch::Tensor bilinear_map(std::int64_t out, std::int64_t in) {
  auto map = torch::zeros({out, in}, torch::kFloat64);  // [out, in]
  auto a = map.accessor<double, 2>();
  for (std::int64_t i = 0; i < out; ++i) {
    const double pos = (out == 1 || in == 1) ? 0.0 : double(i) * double(in - 1) / double(out - 1);
    const auto lo = std::min<std::int64_t>(static_cast<std::int64_t>(std::floor(pos)), in - 1);
    const auto hi = std::min<std::int64_t>(lo + 1, in - 1);
    const double w = pos - double(lo);
    a[i][lo] += 1.0 - w;
    a[i][hi] += w;
  }
  return map;
}

// Linear (align_corners) resize of the last dimension of [B, T] to [B, S].
torch::Tensor resize_1d(const torch::Tensor& x, std::int64_t size) {
  namespace F = torch::nn::functional;
  return F::interpolate(x.unsqueeze(1), F::InterpolateFuncOptions()
                                            .size(std::vector<std::int64_t>{size})
                                            .mode(torch::kLinear)
                                            .align_corners(true))
      .squeeze(1);
}

// Bilinear (align_corners) resize of [B, T, T] to [B, S, S].
torch::Tensor resize_2d(const torch::Tensor& x, std::int64_t size) {
  namespace F = torch::nn::functional;
  return F::interpolate(x.unsqueeze(1), F::InterpolateFuncOptions()
                                            .size(std::vector<std::int64_t>{size, size})
                                            .mode(torch::kBilinear)
                                            .align_corners(true))
      .squeeze(1);
}

// The fold used when no usable period is given: close to square, so that the fold needs the
// smallest image (r and p both about sqrt(T)).
std::int64_t default_fold(std::int64_t length) {
  return static_cast<std::int64_t>(std::ceil(std::sqrt(double(length))));
}

}  // namespace

std::int64_t detect_period(const torch::Tensor& series, std::int64_t max_period) {
  const auto x2 = series.dim() == 1 ? series.unsqueeze(1) : series;
  if (x2.dim() != 2)
    throw std::invalid_argument("detect_period: expected a [T, C] series, got " + shape_of(series));
  const std::int64_t rows = x2.size(0);
  if (rows < 4 || max_period < 2) return 0;
  auto x = x2.to(torch::kFloat64);
  x = x - x.mean(0, /*keepdim=*/true);
  // Averaging magnitudes (not complex values) keeps channels whose cycles are out of phase.
  const auto mag = torch::fft::rfft(x.t()).abs().mean(0).cpu();  // [T/2 + 1]
  // Bin k has period T / k; periods in [2, max_period] are the bins [ceil(T / max_period), T / 2].
  const std::int64_t k_lo = std::max<std::int64_t>(1, (rows + max_period - 1) / max_period);
  const std::int64_t k_hi = rows / 2;
  if (k_lo > k_hi) return 0;
  const auto band = mag.slice(0, k_lo, k_hi + 1);
  const std::int64_t k = k_lo + band.argmax().item<std::int64_t>();
  const double peak = mag[k].item<double>();
  const double median = mag.slice(0, 1).median().item<double>();
  if (!(peak > kPeakRatio * median)) return 0;
  return std::llround(double(rows) / double(k));
}

ViewEncoder::ViewEncoder(std::int64_t length, std::int64_t period, std::int64_t image_size,
                         torch::Device device)
    : length_(length), size_(image_size) {
  if (length < 1)
    throw std::invalid_argument("ViewEncoder: segment length must be >= 1, got " +
                                std::to_string(length));
  if (image_size < 2)
    throw std::invalid_argument("model.image_size: must be at least 2, got " +
                                std::to_string(image_size));
  if (period < 0)
    throw std::invalid_argument("model.period: must be >= 0 (0 = from the FFT peak), got " +
                                std::to_string(period));
  const bool defaulted = period == 0 || period > length;
  period_ = defaulted ? default_fold(length) : period;
  rows_ = (length + period_ - 1) / period_;
  const std::int64_t needed = std::max(rows_, period_);
  if (needed > size_)
    throw std::invalid_argument("model.image_size: S = " + std::to_string(size_) +
                                " is too small for a segment of T = " + std::to_string(length_) +
                                " rows with period " + std::to_string(period_) +
                                (defaulted ? " (the default fold ceil(sqrt(T)))" : "") +
                                " (needs at least max(r, p) = " + std::to_string(needed) + ")");

  // The maps have full column rank (r, p <= S and align_corners samples every unit interval), so
  // pinv(A) A = I and an encoded image decodes exactly. The pseudo-inverses come from an SVD in
  // float64 and are stored in float32 like the maps: the batched products run in the input's dtype.
  const auto rows_map = bilinear_map(size_, rows_);    // [S, r]
  const auto cols_map = bilinear_map(size_, period_);  // [S, p]
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  rows_map_ = rows_map.to(on_device);
  cols_map_ = cols_map.to(on_device);
  // torch::linalg_pinv, not torch::linalg::pinv: LibTorch 2.11 no longer ships torch/linalg.h.
  rows_inv_ = torch::linalg_pinv(rows_map, kPinvRcond, false).to(on_device);  // [r, S]
  cols_inv_ = torch::linalg_pinv(cols_map, kPinvRcond, false).to(on_device);  // [p, S]
}

torch::Tensor ViewEncoder::encode(const torch::Tensor& segments) const {
  if (segments.dim() != 2 || segments.size(1) != length_)
    throw std::invalid_argument("ViewEncoder::encode: expected segments [B, " +
                                std::to_string(length_) + "], got " + shape_of(segments));
  const auto x = segments.is_floating_point() ? segments : segments.to(torch::kFloat32);
  const std::int64_t batch = x.size(0);

  // SEG. Padding on the left keeps the end of the segment (where the forecast lies) at the end of
  // the last fold row, whatever T mod p is.
  const std::int64_t pad = rows_ * period_ - length_;
  auto folded = pad > 0 ? torch::cat({x.slice(1, 0, 1).expand({batch, pad}), x}, 1) : x;
  folded = folded.reshape({batch, rows_, period_}) / kSegScale;  // [B, r, p]
  const auto seg = torch::matmul(torch::matmul(rows_map_.to(x.options()), folded),
                                 cols_map_.to(x.options()).t());  // [B, S, S]

  // Per-segment min-max to [-1, 1]; a flat segment maps to 0.
  const auto lo = x.amin(1, /*keepdim=*/true);                  // [B, 1]
  const auto hi = x.amax(1, /*keepdim=*/true);                  // [B, 1]
  const auto range = (hi - lo).clamp_min(kFlatRange);           // [B, 1]
  const auto u = ((2 * x - hi - lo) / range).clamp(-1.0, 1.0);  // [B, T]
  const auto v = (1 - u * u).clamp_min(0.0).sqrt();             // [B, T]

  // GAF: G = u u^T - v v^T has rank 2, so its bilinear resize M G M^T is (Mu)(Mu)^T - (Mv)(Mv)^T:
  // two 1-D resizes instead of a T x T image.
  const auto us = resize_1d(u, size_);  // [B, S]
  const auto vs = resize_1d(v, size_);  // [B, S]
  const auto gaf =
      us.unsqueeze(2) * us.unsqueeze(1) - vs.unsqueeze(2) * vs.unsqueeze(1);  // [B, S, S]

  // RP: max_ij |x_i - x_j| is the segment's range, so this maps the distances onto [-1, 1].
  const auto dist = (x.unsqueeze(2) - x.unsqueeze(1)).abs();            // [B, T, T]
  const auto rp = resize_2d(2 * dist / range.unsqueeze(2) - 1, size_);  // [B, S, S]

  return torch::stack({seg, gaf, rp}, 1);  // [B, 3, S, S]
}

torch::Tensor ViewEncoder::decode_seg(const torch::Tensor& images) const {
  if (images.dim() != 4 || images.size(1) < 1 || images.size(2) != size_ || images.size(3) != size_)
    throw std::invalid_argument("ViewEncoder::decode_seg: expected images [B, >=1, " +
                                std::to_string(size_) + ", " + std::to_string(size_) + "], got " +
                                shape_of(images));
  const auto y = images.select(1, 0);  // [B, S, S]
  // Least squares: X = pinv(A) Y pinv(B)^T minimises ||A X B^T - Y|| (Frobenius).
  const auto folded = torch::matmul(torch::matmul(rows_inv_.to(y.options()), y),
                                    cols_inv_.to(y.options()).t());  // [B, r, p]
  const std::int64_t pad = rows_ * period_ - length_;
  return folded.reshape({y.size(0), rows_ * period_}).slice(1, pad) * kSegScale;  // [B, T]
}

}  // namespace latentcast
