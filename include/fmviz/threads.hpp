// How many threads fmviz uses: read it, set it, and how many cores there are to use.
#pragma once

#include <algorithm>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fmviz {

/// Threads fmviz uses for its own loops (and Eigen's GEMM). Defaults to all cores; 1 without OpenMP.
inline int thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Processors this process may run on (1 without OpenMP): more threads than this only wait for each other.
inline int core_count() {
#if defined(_OPENMP)
  return std::max(1, omp_get_num_procs());
#else
  return 1;
#endif
}

/// Sets the thread count for later calls on this thread (n < 1 means all cores). Without OpenMP it does nothing.
inline void set_thread_count(int n) {
#if defined(_OPENMP)
  omp_set_num_threads(n < 1 ? omp_get_num_procs() : n);
#else
  (void)n;
#endif
}

}  // namespace fmviz
