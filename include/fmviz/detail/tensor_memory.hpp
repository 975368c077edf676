// Memory for tensors: 64-byte aligned blocks, the large ones recycled from layer to layer and forward to forward.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../error.hpp"

namespace fmviz {
namespace detail {

constexpr std::size_t tensor_alignment = 64;  // a cache line; full AVX-512 vectors

/// Large blocks freed during a forward (the outputs of layers already consumed), kept for the outputs of later
/// layers and of later forwards on the same thread. Fresh memory costs a page fault per 4 KiB page on first touch
/// and goes back to the system when freed; on the virtual machines we measured, that cost a batch of 8 a quarter
/// of its forward. A kept block is reused for a request of at least a quarter of its size, so a few blocks of the
/// size of the largest maps circulate through the whole network: a thread keeps about twice its largest layer
/// output between forwards (release_recycled_memory() frees it).
class BlockRecycler {
 public:
  static constexpr std::size_t min_bytes = std::size_t(1) << 20;  // smaller blocks come from malloc's own free lists

  BlockRecycler() = default;
  BlockRecycler(const BlockRecycler&) = delete;
  BlockRecycler& operator=(const BlockRecycler&) = delete;
  ~BlockRecycler() { release_all(); }

  /// The smallest kept block of `bytes` to `slack` x `bytes` (its size in `capacity`), or nullptr.
  void* take(std::size_t bytes, std::size_t& capacity, std::size_t slack = 4) noexcept {
    std::size_t best = count_;
    for (std::size_t i = 0; i < count_; ++i)
      if (kept_[i].bytes >= bytes && kept_[i].bytes / slack <= bytes && (best == count_ || kept_[i].bytes < kept_[best].bytes)) best = i;
    if (best == count_) return nullptr;
    void* data = kept_[best].data;
    capacity = kept_[best].bytes;
    kept_[best] = kept_[--count_];
    return data;
  }

  /// Keeps a freed block; false (and the caller frees it) when the recycler is full.
  bool keep(void* data, std::size_t bytes) noexcept {
    if (count_ == slots) return false;
    kept_[count_++] = {data, bytes};
    return true;
  }

  std::size_t kept_bytes() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < count_; ++i) total += kept_[i].bytes;
    return total;
  }

  void release_all() noexcept {
    for (std::size_t i = 0; i < count_; ++i) release(kept_[i].data);
    count_ = 0;
  }

  static void release(void* data) noexcept { ::operator delete(data, std::align_val_t(tensor_alignment)); }

 private:
  static constexpr std::size_t slots = 16;  // fixed: keeping a block never allocates (it happens in a deleter)
  struct Block {
    void* data;
    std::size_t bytes;
  };
  Block kept_[slots] = {};
  std::size_t count_ = 0;
};

/// This thread's recycler.
inline BlockRecycler& thread_recycler() noexcept {
  thread_local BlockRecycler recycler;
  return recycler;
}

/// The recycler blocks go to and come from: this thread's while it runs a forward, none otherwise (so tensors
/// a program frees outside a forward go straight back to the system).
inline BlockRecycler*& active_recycler() noexcept {
  thread_local BlockRecycler* recycler = nullptr;
  return recycler;
}

/// Recycles the large blocks allocated and freed on this thread while it lives (Network::forward holds one).
class RecyclingScope {
 public:
  RecyclingScope() noexcept : outer_(active_recycler()) { active_recycler() = &thread_recycler(); }
  RecyclingScope(const RecyclingScope&) = delete;
  RecyclingScope& operator=(const RecyclingScope&) = delete;
  ~RecyclingScope() { active_recycler() = outer_; }

 private:
  BlockRecycler* outer_;
};

/// Frees a block from aligned_array, or hands it to the running forward's recycler.
struct AlignedFree {
  std::size_t bytes = 0;  // the block's size (it may exceed what its owner asked for)
  void operator()(void* p) const noexcept {
    if (bytes >= BlockRecycler::min_bytes)
      if (BlockRecycler* recycler = active_recycler(); recycler && recycler->keep(p, bytes)) return;
    BlockRecycler::release(p);
  }
};

/// Asks the kernel to back the block's whole 2 MiB pages with huge pages where it can (Linux, when transparent
/// huge pages are set to `madvise`): far fewer page faults, and far fewer TLB misses in kernels that walk a few
/// megabytes with large strides (Winograd's transformed tiles). Only pages wholly inside the block are asked
/// for, so the block never takes more memory than it would anyway. A hint: failure changes nothing.
inline void ask_for_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) / huge * huge;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / huge * huge;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p, (void)bytes;
#endif
}

/// How much larger than asked a recycled block may be: a layer output takes a block of up to 4x its size (the
/// maps shrink through a network, and the same few blocks serve them all); a copy, which a program may keep for
/// long (a recorder's), only a block of its own size, so it never holds memory it does not use.
enum class BlockFit { loose = 4, tight = 1 };

template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_array(std::size_t n, BlockFit fit = BlockFit::loose) {
  if (n == 0) return {};
  if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw Error("tensor of " + std::to_string(n) + " elements is too large");
  const std::size_t bytes = n * sizeof(T);
  if (bytes >= BlockRecycler::min_bytes)
    if (BlockRecycler* recycler = active_recycler()) {
      std::size_t capacity = 0;
      if (void* p = recycler->take(bytes, capacity, static_cast<std::size_t>(fit))) return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(p), AlignedFree{capacity});
    }
  void* p = ::operator new(bytes, std::align_val_t(tensor_alignment));
  ask_for_huge_pages(p, bytes);
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(p), AlignedFree{bytes});
}

}  // namespace detail

/// Frees the memory the calling thread keeps for the layer outputs of its next forward (about twice the
/// largest layer output of its last forward). Forwards on this thread afterwards still work: they allocate afresh.
inline void release_recycled_memory() noexcept { detail::thread_recycler().release_all(); }

/// Bytes the calling thread keeps for its next forward's layer outputs.
inline std::size_t recycled_memory_bytes() noexcept { return detail::thread_recycler().kept_bytes(); }

}  // namespace fmviz
