#include "estimator/memory_sim.h"

#include <algorithm>

namespace latentcast::estimator {

const char* cat_name(Cat c) {
  switch (c) {
    case Cat::Weights:
      return "weights";
    case Cat::Ema:
      return "ema";
    case Cat::Gradients:
      return "gradients";
    case Cat::Optimizer:
      return "optimizer";
    case Cat::Data:
      return "data";
    case Cat::Activations:
      return "activations";
    case Cat::Attention:
      return "attention";
    case Cat::Temporary:
      return "temporaries";
    case Cat::Workspace:
      return "workspace";
    case Cat::Count:
      break;
  }
  return "?";
}

Storage::Storage(Sim* sim, std::int64_t bytes, Cat cat) : sim_(sim), bytes_(bytes), cat_(cat) {
  if (sim_->caching_) {
    block_ = sim_->caching_->allocate(bytes);
    bytes_ = block_.bytes;
  }
  sim_->add(bytes_, cat_);
}

Storage::~Storage() {
  if (sim_->caching_) sim_->caching_->free(block_);
  sim_->add(-bytes_, cat_);
}

StoragePtr Sim::alloc(std::int64_t bytes, Cat cat) {
  return std::allocate_shared<Storage>(PoolAllocator<Storage>(&pool_), this, bytes, cat);
}

void Sim::spike(std::int64_t bytes, Cat cat) {
  if (bytes <= 0) return;
  const Storage momentary(this, bytes, cat);
}

void Sim::add(std::int64_t bytes, Cat cat) {
  current_ += bytes;
  live_[static_cast<int>(cat)] += bytes;
  if (bytes > 0) note_peak();
}

void Sim::note_peak() {
  if (current_ <= peak_) return;
  peak_ = current_;
  at_peak_ = live_;
  peak_phase_ = phase_;
}

}  // namespace latentcast::estimator
