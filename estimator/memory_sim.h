// A replay of LibTorch's memory behaviour during a training step, without LibTorch: tensors are
// byte counts whose storages live as long as something holds them (a variable of the model code,
// an autograd node that saved them, a gradient buffer), exactly as in LibTorch, where memory is
// returned when the last reference to a storage goes. The graph (graph.h) records autograd nodes
// during a simulated forward and replays the backward in reverse creation order, which is the order
// LibTorch's engine runs a single-threaded graph in. Internal to the estimator.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "estimator/block_pool.h"
#include "estimator/caching_allocator.h"

namespace latentcast::estimator {

// What a live byte is, for the breakdown of the peak.
enum class Cat : int {
  Weights,      // parameters (and buffers) of the VAE, UNet and history tokens
  Ema,          // the EMA copy of the denoiser
  Gradients,    // parameter gradients
  Optimizer,    // AdamW moments
  Data,         // training segments on the device, cached latents, validation tensors
  Activations,  // tensors kept for the backward, outside attention
  Attention,    // tensors inside attention (scores, softmax, log-sum-exp, INT8 copies)
  Temporary,    // everything transient: gradients of activations, workspaces of single ops
  Workspace,    // workspace of single ops (oneDNN, cuDNN, cuBLAS)
  Count
};
constexpr int kCats = static_cast<int>(Cat::Count);
const char* cat_name(Cat c);

using Bytes = std::array<std::int64_t, kCats>;

class Sim;

// One allocation. Freed (returned to the simulator) when the last shared_ptr to it goes.
class Storage {
 public:
  Storage(Sim* sim, std::int64_t bytes, Cat cat);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  std::int64_t bytes() const { return bytes_; }

 private:
  Sim* sim_;
  std::int64_t bytes_;
  Cat cat_;
  CachingAllocatorModel::Handle block_;
};
using StoragePtr = std::shared_ptr<Storage>;

class Sim {
 public:
  // cuda: allocations go through the caching allocator model (rounded blocks, cached segments);
  // on the CPU every byte is allocated and freed exactly.
  // expandable: the allocator maps expandable segments (CachingAllocatorModel).
  explicit Sim(bool cuda = false, bool expandable = false) {
    if (cuda) caching_ = std::make_unique<CachingAllocatorModel>(expandable);
  }

  StoragePtr alloc(std::int64_t bytes, Cat cat);
  // A momentary allocation (a workspace that is freed before the op returns).
  void spike(std::int64_t bytes, Cat cat);
  // Names the phase the next peaks belong to ("diffusion step: backward"): a string literal (kept
  // as a pointer, so following a new peak costs no copy).
  void set_phase(const char* phase) { phase_ = phase; }
  // Starts a new peak from the current figure (the start of a stage).
  void reset_peak() {
    peak_ = current_;
    at_peak_ = live_;
    peak_phase_ = phase_;
  }

  std::int64_t current() const { return current_; }
  // The caching allocator's reserve (segments), which never shrinks; the CPU: the peak.
  std::int64_t reserved() const { return caching_ ? caching_->reserved() : peak_; }
  std::int64_t peak() const { return peak_; }
  const Bytes& at_peak() const { return at_peak_; }
  std::string peak_phase() const { return peak_phase_; }

 private:
  friend class Storage;
  void add(std::int64_t bytes, Cat cat);
  void note_peak();

  BlockPool pool_;  // declared first: destroyed after every storage it holds is gone
  std::unique_ptr<CachingAllocatorModel> caching_;
  std::int64_t current_ = 0, peak_ = 0;
  Bytes live_{}, at_peak_{};
  const char* phase_ = "";
  const char* peak_phase_ = "";
};

}  // namespace latentcast::estimator
