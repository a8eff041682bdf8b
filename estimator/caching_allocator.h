// A model of LibTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, default
// settings): sizes rounded up to 512 bytes; blocks of at most 1 MiB come from 2 MiB segments,
// blocks under 10 MiB from 20 MiB segments, larger ones from segments rounded up to 2 MiB; a
// request takes the smallest cached free block that is large enough (best fit) and splits off
// the rest when more than 1 MiB remains; freed blocks merge with free
// neighbours of their segment and stay cached. Segments are never returned, so the reserve only
// grows: its final value is its peak. Small blocks are counted by bytes only: their 2 MiB segments
// are reserved as the small pool's live bytes first need them (its fragmentation is a few MiB at
// most), which keeps the model fast.
//
// With expandable segments (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, Latentcast's setting)
// the large pool is one segment whose address range is mapped in 20 MiB pages as it grows: when no
// cached free block fits, the free block at the end of the segment (if any) is extended by the
// shortfall, rounded up to pages, instead of a new segment of the whole request; that end block is
// used only when no other free block fits, and blocks split whatever is left over (c10's
// try_allocate_expandable_block, get_free_block and should_split). Internal to the estimator.
#pragma once

#include <cstdint>
#include <tuple>
#include <vector>


namespace latentcast::estimator {

class CachingAllocatorModel {
 public:
  explicit CachingAllocatorModel(bool expandable = false) : expandable_(expandable) {}

  struct Handle {
    int block = -1;
    std::int64_t bytes = 0;  // what the allocator counts as allocated (the block's size)
  };

  Handle allocate(std::int64_t bytes);
  void free(const Handle& handle);
  std::int64_t reserved() const { return reserved_; }

 private:
  struct Block {
    std::int64_t size = 0, address = 0;
    int prev = -1, next = -1;
    bool allocated = false;
  };
  using Key = std::tuple<std::int64_t, std::int64_t, int>;  // size, address, block

  int new_block(const Block& b);
  Key key(int id) const { return {blocks_[id].size, blocks_[id].address, id}; }
  void insert_free(int id);
  void erase_free(int id);

  std::vector<Block> blocks_;
  std::vector<int> unused_;
  // The cached free blocks in best-fit order (size, then address), as a sorted vector: a training
  // step keeps a few dozen, where binary search and a short move beat a tree's node traffic.
  std::vector<Key> free_;
  bool expandable_;
  int last_ = -1;  // expandable: the block at the end of the mapped range
  std::int64_t next_address_ = 0;
  std::int64_t small_live_ = 0, small_reserved_ = 0;
  std::int64_t reserved_ = 0;
};

}  // namespace latentcast::estimator
