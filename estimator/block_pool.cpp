#include "estimator/block_pool.h"

#include <algorithm>

namespace latentcast::estimator {

namespace {
constexpr std::size_t kSlabBlocks = 256;
}

BlockPool::~BlockPool() {
  for (void* slab : slabs_) ::operator delete(slab);
  for (void* block : large_) ::operator delete(block);
}

void* BlockPool::get(std::size_t bytes) {
  if (block_ == 0) block_ = std::max(bytes, sizeof(Free));
  if (bytes > block_) {  // not expected: one block size per pool
    large_.push_back(::operator new(bytes));
    return large_.back();
  }
  if (!free_) {
    // A slab of blocks, threaded onto the free list: one allocation for many storages, and one
    // release for all of them when the replay ends.
    char* slab = static_cast<char*>(::operator new(block_ * kSlabBlocks));
    slabs_.push_back(slab);
    for (std::size_t i = kSlabBlocks; i-- > 0;) put(slab + i * block_);
  }
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
