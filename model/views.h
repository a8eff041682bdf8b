// Vision views of univariate segments (after LDM4TS): SEG (period folding), GAF (Gramian angular
// summation field) and RP (recurrence plot), each one channel of an S x S image, batched on the
// device. SEG is invertible: the forecast is read back from it.
#pragma once

#include <torch/torch.h>

namespace latentcast {

// Period of a [T, C] series: the strongest FFT peak of the mean spectrum of its channels, with
// periods between 2 and max_period; 0 when no peak stands out.
std::int64_t detect_period(const torch::Tensor& series, std::int64_t max_period);

// Encodes segments of a fixed length T into [3, S, S] images and reads SEG back.
// SEG: the segment (divided by kSegScale so z-scores lie in about [-1, 1]) is left-padded with its
// first value to a multiple of the period p, folded row-major into [r, p] (r = ceil(T / p)), and
// resized to S x S by a separable bilinear map (align_corners) Y = A X B^T. Reading back applies
// the pseudo-inverses of A and B, which recovers X exactly for an encoded image and is the
// least-squares X for any other (e.g. a decoded, generated one). Needs r <= S and p <= S. GAF: the
// segment min-max scaled to [-1, 1] per segment, G_ij = x_i x_j - sqrt(1-x_i^2) sqrt(1-x_j^2),
// resized to S x S. RP: |x_i - x_j| scaled to [-1, 1] per segment, resized to S x S.
class ViewEncoder {
 public:
  static constexpr double kSegScale = 3.0;

  // Throws std::invalid_argument when the segment does not fit: "model.image_size: ..." naming the
  // sizes.
  ViewEncoder(std::int64_t length, std::int64_t period, std::int64_t image_size,
              torch::Device device);

  torch::Tensor encode(const torch::Tensor& segments) const;  // [B, T] -> [B, 3, S, S]
  torch::Tensor decode_seg(
      const torch::Tensor& images) const;  // [B, >=1, S, S] -> [B, T] (channel 0)

  std::int64_t length() const { return length_; }
  std::int64_t period() const { return period_; }
  std::int64_t image_size() const { return size_; }

 private:
  std::int64_t length_, period_, rows_, size_;
  torch::Tensor rows_map_, cols_map_;  // A [S, r], B [S, p]
  torch::Tensor rows_inv_, cols_inv_;  // pinv(A) [r, S], pinv(B) [p, S]
};

}  // namespace latentcast
