// Recycling of equal-size heap blocks, in slabs, for the estimator's many short-lived objects
// (the storages of a replay). Internal to the estimator.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace latentcast::estimator {

// A free list of equal-size blocks (the first request sets the size; larger ones go to the heap),
// for std::allocate_shared and node containers.
class BlockPool {
 public:
  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool();
  void* get(std::size_t bytes);
  void put(void* block);

 private:
  struct Free {
    Free* next;
  };
  Free* free_ = nullptr;
  std::size_t block_ = 0;
  std::vector<void*> slabs_;  // blocks come in slabs of kSlabBlocks, freed with the pool
  std::vector<void*> large_;  // the unexpected larger requests, freed with the pool
};

template <class T>
struct PoolAllocator {
  using value_type = T;
  BlockPool* pool;
  explicit PoolAllocator(BlockPool* p) : pool(p) {}
  template <class U>
  PoolAllocator(const PoolAllocator<U>& other) : pool(other.pool) {}
  T* allocate(std::size_t n) {
    return n == 1 ? static_cast<T*>(pool->get(sizeof(T)))
                  : static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) {
    if (n == 1)
      pool->put(p);
    else
      ::operator delete(p);
  }
  template <class U>
  bool operator==(const PoolAllocator<U>& o) const {
    return pool == o.pool;
  }
  template <class U>
  bool operator!=(const PoolAllocator<U>& o) const {
    return pool != o.pool;
  }
};

}  // namespace latentcast::estimator
