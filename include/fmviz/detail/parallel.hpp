// Thin OpenMP wrappers, so the library also builds (single-threaded) without OpenMP.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>

#include "../error.hpp"

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

/// Processors this process may run on (1 without OpenMP): more threads than this only wait for each other.
inline int core_count() {
#if defined(_OPENMP)
  return std::max(1, omp_get_num_procs());
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

/// Collects the first exception thrown by any iteration of a parallel loop, so it can be rethrown on the
/// calling thread (an exception escaping an OpenMP region would end the process).
class LoopErrors {
 public:
  template <typename Body>
  void run(Body&& body) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;  // skip the rest once something failed
    try {
      body();
    } catch (const Error&) {
      keep(std::current_exception());
    } catch (const std::bad_alloc&) {
      keep(std::make_exception_ptr(Error({}, "memory", "out of memory in a parallel loop")));
    } catch (const std::exception& e) {
      keep(std::make_exception_ptr(Error({}, "parallel loop", e.what())));
    } catch (...) {
      keep(std::make_exception_ptr(Error({}, "parallel loop", "unknown exception")));
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void keep(std::exception_ptr e) noexcept {
    if (!failed_.exchange(true)) error_ = std::move(e);
  }
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

/// Runs body(i) for i in [0, n), spread over threads when it is worth it. An exception thrown by body
/// stops the remaining iterations and reaches the caller as an fmviz::Error.
template <typename Body>
void parallel_for(std::size_t n, Body&& body, bool worth_it = true) {
#if defined(_OPENMP)
  if (worth_it && n > 1 && !omp_in_parallel() && omp_get_max_threads() > 1) {
    LoopErrors errors;
    const std::int64_t count = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(dynamic)
    for (std::int64_t i = 0; i < count; ++i) errors.run([&] { body(static_cast<std::size_t>(i)); });
    errors.rethrow();
    return;
  }
#endif
  (void)worth_it;
  for (std::size_t i = 0; i < n; ++i) body(i);
}

}  // namespace detail
}  // namespace fmviz
