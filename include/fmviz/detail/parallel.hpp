// parallel_for: a loop spread over fmviz's threads (threads.hpp), run in order without OpenMP.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <utility>

#include "../error.hpp"
#include "../threads.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fmviz {
namespace detail {

/// While alive, keeps Eigen's own OpenMP threads off on this thread. Eigen's GEMM opens a parallel region of its
/// own when called outside one, and an exception inside it (std::bad_alloc for its packing buffers) would end
/// the process; fmviz does its threading in parallel_for, where errors reach the caller. Inside a parallel
/// region (or with one thread) it does nothing. (A program that called Eigen::setNbThreads overrides this.)
class EigenOnThisThread {
 public:
  EigenOnThisThread() noexcept {
#if defined(_OPENMP)
    if (!omp_in_parallel() && omp_get_max_threads() > 1) {
      saved_ = omp_get_max_threads();
      omp_set_num_threads(1);  // this thread's setting only: other threads and their forwards are not touched
    }
#endif
  }
  ~EigenOnThisThread() {
#if defined(_OPENMP)
    if (saved_ > 0) omp_set_num_threads(saved_);
#endif
  }
  EigenOnThisThread(const EigenOnThisThread&) = delete;
  EigenOnThisThread& operator=(const EigenOnThisThread&) = delete;

 private:
  [[maybe_unused]] int saved_ = 0;  // used only with OpenMP
};

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
