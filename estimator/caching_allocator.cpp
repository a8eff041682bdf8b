#include "estimator/caching_allocator.h"

#include <algorithm>
#include <cassert>
#include <iterator>

namespace latentcast::estimator {
namespace {

constexpr std::int64_t kMinBlock = 512;          // rounding and smallest split
constexpr std::int64_t kSmallSize = 1 << 20;     // largest "small" block
constexpr std::int64_t kSmallBuffer = 2 << 20;   // segment for small blocks
constexpr std::int64_t kLargeBuffer = 20 << 20;  // segment for blocks under kMinLargeAlloc
constexpr std::int64_t kMinLargeAlloc = 10 << 20;
constexpr std::int64_t kRoundLarge = 2 << 20;

std::int64_t round_up(std::int64_t x, std::int64_t to) {
  return (x + to - 1) / to * to;
}

}  // namespace

int CachingAllocatorModel::new_block(const Block& b) {
  if (!unused_.empty()) {
    const int id = unused_.back();
    unused_.pop_back();
    blocks_[id] = b;
    return id;
  }
  blocks_.push_back(b);
  return static_cast<int>(blocks_.size()) - 1;
}

void CachingAllocatorModel::insert_free(int id) {
  const Key k = key(id);
  free_.insert(std::lower_bound(free_.begin(), free_.end(), k), k);
}

void CachingAllocatorModel::erase_free(int id) {
  const Key k = key(id);
  const auto it = std::lower_bound(free_.begin(), free_.end(), k);
  assert(it != free_.end() && *it == k);  // only blocks that are in the list are erased
  free_.erase(it);
}

CachingAllocatorModel::Handle CachingAllocatorModel::allocate(std::int64_t bytes) {
  const std::int64_t size = bytes < kMinBlock ? kMinBlock : round_up(bytes, kMinBlock);
  if (size <= kSmallSize) {
    small_live_ += size;
    if (small_live_ > small_reserved_) {
      const std::int64_t grow = round_up(small_live_ - small_reserved_, kSmallBuffer);
      small_reserved_ += grow;
      reserved_ += grow;
    }
    return {-1, size};
  }
  int id;
  auto it = std::lower_bound(free_.begin(), free_.end(), Key{size, -1, -1});
  // Expandable: the free block at the end of the segment (it can grow) is taken only when no
  // other free block fits.
  if (expandable_ && it != free_.end() && std::get<2>(*it) == last_ && std::next(it) != free_.end())
    ++it;
  if (it != free_.end()) {
    id = std::get<2>(*it);
    free_.erase(it);
  } else if (expandable_) {
    // Map the shortfall at the end of the segment, extending a free block that ends there.
    const bool tail_free = last_ >= 0 && !blocks_[last_].allocated;
    const std::int64_t have = tail_free ? blocks_[last_].size : 0;
    const std::int64_t grow = round_up(size - have, kLargeBuffer);
    reserved_ += grow;
    next_address_ += grow;
    if (tail_free) {
      id = last_;
      erase_free(id);
      blocks_[id].size += grow;
    } else {
      Block tail;
      tail.size = grow;
      tail.address = next_address_ - grow;
      tail.prev = last_;
      id = new_block(tail);
      if (last_ >= 0) blocks_[last_].next = id;
      last_ = id;
    }
  } else {
    Block seg;
    seg.size = size < kMinLargeAlloc ? kLargeBuffer : round_up(size, kRoundLarge);
    seg.address = next_address_;
    next_address_ += seg.size;
    reserved_ += seg.size;
    id = new_block(seg);
  }
  // Blocks split when more than 1 MiB would be left over; in an expandable segment, always.
  const std::int64_t remaining = blocks_[id].size - size;
  if (remaining > kSmallSize || (expandable_ && remaining >= kMinBlock)) {
    Block rest;
    rest.size = remaining;
    rest.address = blocks_[id].address + size;
    rest.prev = id;
    rest.next = blocks_[id].next;
    const int rest_id = new_block(rest);
    if (blocks_[rest_id].next >= 0) blocks_[blocks_[rest_id].next].prev = rest_id;
    blocks_[id].next = rest_id;
    blocks_[id].size = size;
    if (last_ == id) last_ = rest_id;
    insert_free(rest_id);
  }
  blocks_[id].allocated = true;
  return {id, blocks_[id].size};
}

void CachingAllocatorModel::free(const Handle& handle) {
  if (handle.block < 0) {
    small_live_ -= handle.bytes;
    return;
  }
  int id = handle.block;
  blocks_[id].allocated = false;
  // Merge with the free neighbours in the segment.
  const int prev = blocks_[id].prev;
  if (prev >= 0 && !blocks_[prev].allocated) {
    erase_free(prev);
    blocks_[prev].size += blocks_[id].size;
    blocks_[prev].next = blocks_[id].next;
    if (blocks_[id].next >= 0) blocks_[blocks_[id].next].prev = prev;
    if (last_ == id) last_ = prev;
    unused_.push_back(id);
    id = prev;
  }
  const int next = blocks_[id].next;
  if (next >= 0 && !blocks_[next].allocated) {
    erase_free(next);
    blocks_[id].size += blocks_[next].size;
    blocks_[id].next = blocks_[next].next;
    if (blocks_[next].next >= 0) blocks_[blocks_[next].next].prev = id;
    if (last_ == next) last_ = id;
    unused_.push_back(next);
  }
  insert_free(id);
}

}  // namespace latentcast::estimator
