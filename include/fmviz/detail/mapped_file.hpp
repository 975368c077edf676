// MappedFile: a read-only view of a whole file, memory-mapped where the OS allows.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define FMVIZ_HAS_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fmviz::detail {

class MappedFile {
 public:
  explicit MappedFile(std::string path) : path_(std::move(path)) {
#if defined(FMVIZ_HAS_MMAP)
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw Error(path_, {}, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(path_, {}, "not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw Error(path_, {}, std::string("cannot map: ") + std::strerror(err));
      }
      data_ = static_cast<const unsigned char*>(p);
    }
    ::close(fd);
#else
    std::ifstream in(path_, std::ios::binary | std::ios::ate);
    if (!in) throw Error(path_, {}, "cannot open");
    size_ = static_cast<std::size_t>(in.tellg());
    buffer_.resize(size_);
    in.seekg(0);
    if (size_ && !in.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(size_)))
      throw Error(path_, {}, "read failed");
    data_ = buffer_.data();
#endif
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  ~MappedFile() {
#if defined(FMVIZ_HAS_MMAP)
    if (data_ && size_) ::munmap(const_cast<unsigned char*>(data_), size_);
#endif
  }

  const std::string& path() const noexcept { return path_; }
  const unsigned char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::string path_;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
#if !defined(FMVIZ_HAS_MMAP)
  std::vector<unsigned char> buffer_;
#endif
};

}  // namespace fmviz::detail
