#include "estimator/block_pool.h"

#include <algorithm>

namespace latentcast::estimator {

BlockPool::~BlockPool() {
  while (free_) {
    Free* next = free_->next;
    ::operator delete(free_);
    free_ = next;
  }
}

void* BlockPool::get(std::size_t bytes) {
  if (block_ == 0) block_ = std::max(bytes, sizeof(Free));
  if (bytes > block_) return ::operator new(bytes);  // not expected: one block size per pool
  if (!free_) return ::operator new(block_);
  Free* f = free_;
  free_ = f->next;
  return f;
}

void BlockPool::put(void* block) {
  Free* f = static_cast<Free*>(block);
  f->next = free_;
  free_ = f;
}

}  // namespace latentcast::estimator
