// write_file_atomically: writes a whole file under a temporary name, then renames it into place,
// so a reader never sees a half-written output and a failure leaves nothing behind.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#if defined(_WIN32)
#include <process.h>
#else
#include <unistd.h>
#endif

#include "../error.hpp"

namespace fmviz::detail {

/// "path.tmp-<pid>-<n>": in the same directory as `path` (so the rename stays on one file system),
/// unique per process and call.
inline std::string temporary_file_name(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
#if defined(_WIN32)
  const long pid = static_cast<long>(::_getpid());
#else
  const long pid = static_cast<long>(::getpid());
#endif
  return path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter.fetch_add(1));
}

inline std::string errno_text(int err) { return err ? std::string(": ") + std::strerror(err) : std::string(); }

/// Creates `path` with what `writer` puts into the stream. The data goes to a temporary file next to
/// `path`, which is renamed over `path` only when everything was written. On any failure (the writer
/// throws, a write fails, the rename fails) the temporary file is removed and fmviz::Error is thrown
/// (an fmviz::Error from the writer is passed on unchanged).
inline void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  if (path.empty()) throw Error({}, "output", "empty output file name");
  const std::string tmp = temporary_file_name(path);
  errno = 0;
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) {
    const int err = errno;
    throw Error(path, "write", "cannot create temporary file " + tmp + errno_text(err));
  }
  const auto discard = [&] {
    out.close();
    std::remove(tmp.c_str());
  };
  try {
    writer(out);
  } catch (const Error&) {
    discard();
    throw;
  } catch (const std::exception& e) {
    discard();
    throw Error(path, "write", e.what());
  } catch (...) {
    discard();
    throw;
  }
  errno = 0;
  out.flush();
  if (out) out.close();
  if (out.fail()) {
    const int err = errno;
    discard();
    throw Error(path, "write", "writing " + tmp + " failed" + errno_text(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error(path, "write", "cannot rename " + tmp + " to it" + errno_text(err));
  }
}

/// Creates `path` holding exactly `size` bytes from `data`, atomically as above.
inline void write_file_atomically(const std::string& path, const void* data, std::size_t size) {
  write_file_atomically(path, [&](std::ostream& out) {
    if (size) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  });
}

/// Creates `path` holding exactly `bytes`, atomically as above.
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace fmviz::detail
