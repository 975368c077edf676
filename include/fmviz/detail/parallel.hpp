// Thin OpenMP wrappers, so the library also builds (single-threaded) without OpenMP.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fmviz {

/// Threads fmviz uses for its own loops (and Eigen's GEMM). Defaults to all cores.
inline int thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the thread count for later calls on this thread (n < 1 means all cores).
inline void set_thread_count(int n) {
#if defined(_OPENMP)
  omp_set_num_threads(n < 1 ? omp_get_num_procs() : n);
#else
  (void)n;
#endif
}

namespace detail {

/// Runs body(i) for i in [0, n), spread over threads when it is worth it.
template <typename Body>
void parallel_for(std::size_t n, Body&& body, bool worth_it = true) {
#if defined(_OPENMP)
  const std::int64_t count = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(dynamic) if (worth_it && n > 1)
  for (std::int64_t i = 0; i < count; ++i) body(static_cast<std::size_t>(i));
#else
  (void)worth_it;
  for (std::size_t i = 0; i < n; ++i) body(i);
#endif
}

}  // namespace detail
}  // namespace fmviz
