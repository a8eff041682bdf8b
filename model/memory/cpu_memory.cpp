// A c10::Allocator that wraps the default CPU allocator and counts bytes. Each allocation's DataPtr
// carries a small record (the wrapped DataPtr and its size) as its context, so the deleter knows
// how much to subtract without a lookup table.
#include "model/memory/cpu_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>

namespace latentcast::memory {
namespace {

std::atomic<std::int64_t> g_current{0};
std::atomic<std::int64_t> g_peak{0};
std::atomic<bool> g_installed{false};

void add(std::int64_t bytes) {
  const std::int64_t now = g_current.fetch_add(bytes) + bytes;
  std::int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

// Sizes of the live allocations by address. The DataPtr's context must be its data pointer
// (LibTorch's raw_allocate, used by oneDNN, asserts it), so the size cannot travel in the context.
std::mutex g_mutex;
std::unordered_map<void*, std::int64_t>& sizes() {
  static auto* map =
      new std::unordered_map<void*, std::int64_t>();  // never destroyed: frees at exit use it
  return *map;
}
c10::DeleterFnPtr g_base_deleter = nullptr;

void release(void* data) {
  if (!data) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    const auto it = sizes().find(data);
    if (it != sizes().end()) {
      g_current.fetch_sub(it->second);
      sizes().erase(it);
    }
  }
  g_base_deleter(data);
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) {}

  // LibTorch 2.3 made allocate() non-const and added copy_data(); both spellings are defined so the
  // one the installed LibTorch declares is overridden.
  c10::DataPtr allocate(size_t n) const { return wrap(n); }
  c10::DataPtr allocate(size_t n) { return wrap(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

 private:
  c10::DataPtr wrap(size_t n) const {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    if (!data) return inner;
    // The default CPU allocator's context is its data pointer and its deleter frees it (checked at
    // install).
    inner.release_context();
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      sizes()[data] = static_cast<std::int64_t>(n);
    }
    add(static_cast<std::int64_t>(n));
    return c10::DataPtr(data, data, &release, device);
  }

  c10::Allocator* base_;
};

}  // namespace

void install_cpu_counter() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Static lifetime: tensors freed at exit still find their allocator.
    c10::Allocator* base = c10::GetCPUAllocator();
    g_base_deleter = base->raw_deleter();
    if (!g_base_deleter)
      return;  // an allocator without a raw deleter cannot be wrapped; nothing counted
    static CountingAllocator counting(base);
    c10::SetCPUAllocator(&counting, /*priority=*/std::numeric_limits<std::uint8_t>::max());
    g_installed = true;
  });
}

bool cpu_counter_installed() {
  return g_installed.load();
}

std::int64_t cpu_current_bytes() {
  return g_current.load();
}

std::int64_t cpu_peak_bytes() {
  return g_peak.load();
}

void reset_cpu_peak() {
  g_peak.store(g_current.load());
}

}  // namespace latentcast::memory
