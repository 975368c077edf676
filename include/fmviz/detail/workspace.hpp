// Scratch memory that a calling thread keeps between forwards, so kernels allocate once, not per call.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "../tensor.hpp"

namespace fmviz {
namespace detail {

/// Grows to the largest request and stays; one per thread and Tag (a network shared by threads never shares
/// a workspace, and a kernel's Tag keeps its buffer apart from the buffers of the kernels it calls).
/// Kernels take what they need for one call and must not hold it across calls.
template <typename T, typename Tag = void>
T* thread_workspace(std::size_t count) {
  struct Buffer {
    std::unique_ptr<T[], AlignedFree> data;
    std::size_t size = 0;
  };
  thread_local Buffer buffer;
  if (count > buffer.size) {
    buffer.data.reset();  // free first: old and new together could be twice the peak
    buffer.size = 0;
    buffer.data = aligned_array<T>(count);
    buffer.size = count;
  }
  return buffer.data.get();
}

}  // namespace detail
}  // namespace fmviz
