// An allocator that maps large arrays straight from the operating system and unmaps them when
// freed. The kernel graph's blocks (megabytes each, rebuilt every iteration with other sizes)
// would otherwise go through malloc, whose mmap threshold rises to the size of the first large
// block freed: later blocks then come from the heap, and the holes the previous iteration's
// blocks leave there stay resident, on top of the graph itself.
#pragma once

#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstddef>
#include <cstdlib>
#include <new>

namespace cuts {

template <class T>
struct PageAllocator {
  using value_type = T;
  // Below this size, malloc's own bins serve better than whole pages.
  static constexpr std::size_t kMappedBytes = std::size_t(1) << 20;

  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    void* p = bytes >= kMappedBytes
                  ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : std::malloc(bytes > 0 ? bytes : 1);
    if (p == MAP_FAILED || p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kMappedBytes)
      munmap(p, bytes);
    else
      std::free(p);
  }

  template <class U>
  bool operator==(const PageAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const PageAllocator<U>&) const { return false; }
};

// Hands the heap's free pages back to the operating system: freed allocations otherwise stay
// resident as holes between live ones from one iteration to the next. glibc only; elsewhere a
// no-op.
inline void return_free_heap_pages() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace cuts
