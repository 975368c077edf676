// PNG decoding with libpng: every bit depth and colour type (grey, grey+alpha, RGB, RGBA, palette), interlaced
// or not. Grey becomes RGB and alpha is dropped, as PIL's convert("RGB") does; 16-bit files keep their precision
// (PIL would keep the top 8 bits). Compiled in when FMVIZ_HAVE_LIBPNG is defined (the CMake package defines it
// when it finds libpng); otherwise stb_image decodes PNGs (see decoders/stb.hpp).
//
// libpng reports errors by calling a function that must not return; it jumps (longjmp) back to the function
// that set the jump (setjmp). The functions that set a jump hold no C++ object with a destructor, and
// allocate nothing: the buffers they fill come from their callers.
#pragma once

#if defined(FMVIZ_HAVE_LIBPNG)

#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <png.h>

#include "../error.hpp"

namespace fmviz {
namespace detail {

/// libpng's state for one decode of a PNG held in memory.
class PngDecoder {
 public:
  PngDecoder(const unsigned char* data, std::size_t size, const std::string& path) : path_(path) {
    source_ = {data, size, 0};
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state_, &PngDecoder::on_error, &PngDecoder::on_warning);
    if (png_) info_ = png_create_info_struct(png_);
    if (!png_ || !info_) throw Error(path_, "image", "cannot decode PNG: out of memory");
    if (!guarded_setup()) fail();
  }
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  ~PngDecoder() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }

  /// Reads the image's size from its header chunk (IHDR, always first), so that it is known before libpng reads
  /// anything more: a file can claim a huge size and hold no pixels at all.
  void read_header() {
    const unsigned char* d = source_.data;
    if (source_.size >= 24 && std::memcmp(d + 12, "IHDR", 4) == 0) {
      const auto u32 = [&](std::size_t at) {
        return std::size_t{d[at]} << 24 | std::size_t{d[at + 1]} << 16 | std::size_t{d[at + 2]} << 8 | d[at + 3];
      };
      width_ = u32(16);
      height_ = u32(20);
    } else {
      read_info();  // libpng says what is wrong
    }
  }
  std::size_t width() const noexcept { return width_; }
  std::size_t height() const noexcept { return height_; }

  /// Decodes into `rgb` (width() * height() * 3 values in [0, 1]).
  void decode(float* rgb) {
    const std::size_t w = width_, h = height_;
    if (!info_read_) read_info();
    if (width_ != w || height_ != h) throw Error(path_, "image", "cannot decode PNG: inconsistent header");
    const std::size_t row_bytes = width_ * 3 * (sixteen_ ? 2 : 1);
    // Interlaced images arrive in seven passes over the whole image, so they are assembled in a whole-image buffer.
    buffer_.resize(interlaced_ ? row_bytes * height_ : row_bytes);
    if (interlaced_) {
      rows_.resize(height_);
      for (std::size_t y = 0; y < height_; ++y) rows_[y] = buffer_.data() + y * row_bytes;
    }
    if (!guarded_decode(rgb, buffer_.data(), row_bytes)) fail();
  }

 private:
  struct Source {
    const unsigned char* data;
    std::size_t size, at;
  };
  struct State {
    char message[256];
  };

  [[noreturn]] static void on_error(png_structp png, png_const_charp message) {
    auto* state = static_cast<State*>(png_get_error_ptr(png));
    std::snprintf(state->message, sizeof state->message, "%s", message ? message : "unknown error");
    png_longjmp(png, 1);
  }
  static void on_warning(png_structp, png_const_charp) {}  // recoverable (e.g. a bad ancillary chunk): decoded anyway
  static void on_read(png_structp png, png_bytep out, png_size_t count) {
    auto* source = static_cast<Source*>(png_get_io_ptr(png));
    if (count > source->size - source->at) png_error(png, "the file is truncated (premature end of data)");
    std::memcpy(out, source->data + source->at, count);
    source->at += count;
  }

  bool guarded_setup() {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_read_fn(png_, &source_, &PngDecoder::on_read);
    // Sizes are checked by the caller against its pixel limit. libpng's own limits are set here rather than left
    // to the build's defaults: at most 8 MiB for any chunk other than the pixels (compressed text and colour
    // profiles included, once inflated), at most 1000 such chunks.
    png_set_chunk_malloc_max(png_, png_alloc_size_t(8) << 20);
    png_set_chunk_cache_max(png_, 1000);
    return true;
  }

  void read_info() {
    if (!guarded_read_info()) fail();
    info_read_ = true;
  }

  bool guarded_read_info() {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_info(png_, info_);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png_, info_, &w, &h, &depth, &color, &interlace, nullptr, nullptr);
    width_ = w;
    height_ = h;
    sixteen_ = depth == 16;
    interlaced_ = interlace != PNG_INTERLACE_NONE;
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png_);
    if ((color & PNG_COLOR_MASK_COLOR) == 0) {
      if (depth < 8) png_set_expand_gray_1_2_4_to_8(png_);
      png_set_gray_to_rgb(png_);
    }
    png_set_strip_alpha(png_);  // alpha, and the alpha a palette's or grey's tRNS chunk would expand into
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    return true;
  }

  bool guarded_decode(float* rgb, unsigned char* buffer, std::size_t row_bytes) {
    if (setjmp(png_jmpbuf(png_))) return false;
    if (png_get_rowbytes(png_, info_) != row_bytes) png_error(png_, "unexpected row size after conversion to RGB");
    const std::size_t values = width_ * 3;
    if (interlaced_) {
      png_read_image(png_, rows_.data());
      for (std::size_t y = 0; y < height_; ++y) convert(buffer + y * row_bytes, rgb + y * values, values);
    } else {
      for (std::size_t y = 0; y < height_; ++y) {
        png_read_row(png_, buffer, nullptr);
        convert(buffer, rgb + y * values, values);
      }
    }
    png_read_end(png_, nullptr);
    return true;
  }

  void convert(const unsigned char* in, float* out, std::size_t values) const noexcept {
    if (sixteen_)
      for (std::size_t i = 0; i < values; ++i) out[i] = static_cast<float>((in[2 * i] << 8 | in[2 * i + 1]) / 65535.0);
    else
      for (std::size_t i = 0; i < values; ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
  }

  [[noreturn]] void fail() const { throw Error(path_, "image", std::string("cannot decode PNG: ") + state_.message); }

  std::string path_;
  Source source_{};
  State state_{};
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
  std::size_t width_ = 0, height_ = 0;
  bool sixteen_ = false, interlaced_ = false, info_read_ = false;
  std::vector<unsigned char> buffer_;
  std::vector<png_bytep> rows_;
};

}  // namespace detail
}  // namespace fmviz

#endif  // FMVIZ_HAVE_LIBPNG
