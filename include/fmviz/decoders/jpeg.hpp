// JPEG decoding with libjpeg-turbo, set up as PIL sets it up, so that fmviz sees the pixels a PyTorch pipeline
// (PIL's Image.open(...).convert("RGB")) sees, bit for bit: libjpeg's defaults (accurate integer IDCT, fancy
// upsampling), grey replicated to RGB, CMYK and YCCK read with Adobe's inverted polarity and converted to RGB
// with PIL's formula. Compiled in when FMVIZ_HAVE_LIBJPEG is defined (the CMake package defines it when it
// finds libjpeg); otherwise stb_image decodes JPEGs (see decoders/stb.hpp).
//
// libjpeg reports errors by calling a function that must not return; it jumps (longjmp) back to the function
// that set the jump (setjmp). The functions that set a jump hold no C++ object with a destructor, and
// allocate nothing: the buffers they fill come from their callers.
#pragma once

#if defined(FMVIZ_HAVE_LIBJPEG)

#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <cstring>
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

#include "../error.hpp"

namespace fmviz {
namespace detail {

/// libjpeg's state for one decode, and the messages of its error and warning callbacks.
class JpegDecoder {
 public:
  /// A progressive JPEG can hold any number of scans, each a pass over the whole image: a few hundred bytes
  /// of scans can keep a decoder busy for minutes. Real encoders write about ten; libjpeg-turbo's own tools
  /// stop at 500.
  static constexpr int max_scans = 500;

  JpegDecoder(const unsigned char* data, std::size_t size, const std::string& path) : path_(path) {
    cinfo_.err = jpeg_std_error(&errors_.pub);
    errors_.pub.error_exit = &JpegDecoder::on_error;
    errors_.pub.emit_message = &JpegDecoder::on_message;
    progress_.progress_monitor = &JpegDecoder::on_progress;
    if (!create(data, size)) fail();
    created_ = true;
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder() {
    if (created_) jpeg_destroy_decompress(&cinfo_);
  }

  /// Reads the headers: the image's size is known after this, before any pixel is decoded.
  void read_header() {
    if (!guarded_read_header()) fail();
  }
  std::size_t width() const noexcept { return cinfo_.image_width; }
  std::size_t height() const noexcept { return cinfo_.image_height; }

  /// Decodes into `rgb` (width() * height() * 3 values in [0, 1]).
  void decode(float* rgb) {
    row_.resize(width() * 4);
    if (!guarded_decode(rgb, row_.data())) fail();
    if (errors_.truncated) throw Error(path_, "image", "cannot decode JPEG: the file is truncated (premature end of data)");
  }

 private:
  struct Errors {
    jpeg_error_mgr pub;  // first: libjpeg hands callbacks a pointer to it
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool truncated;
  };

  [[noreturn]] static void on_error(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<Errors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
  }
  // Warnings (corrupt but decodable data) are accepted silently, as PIL accepts them, except the end of the data
  // arriving early: PIL refuses truncated files ("image file is truncated"), so fmviz does too.
  static void on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) reinterpret_cast<Errors*>(cinfo->err)->truncated = true;
  }
  static void on_progress(j_common_ptr cinfo) {
    auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (d->input_scan_number > max_scans) {
      auto* errors = reinterpret_cast<Errors*>(cinfo->err);
      std::snprintf(errors->message, sizeof errors->message, "more than %d scans (a file made to take forever)", max_scans);
      std::longjmp(errors->jump, 1);
    }
  }

  bool create(const unsigned char* data, std::size_t size) {
    if (setjmp(errors_.jump)) return false;
    jpeg_create_decompress(&cinfo_);
    cinfo_.progress = &progress_;
    jpeg_mem_src(&cinfo_, data, static_cast<unsigned long>(size));
    return true;
  }

  bool guarded_read_header() {
    if (setjmp(errors_.jump)) return false;
    jpeg_read_header(&cinfo_, TRUE);
    // As PIL: 4-component files (CMYK, or YCCK which libjpeg turns into CMYK) come out as CMYK; the rest as RGB.
    cmyk_ = cinfo_.num_components == 4;
    cinfo_.out_color_space = cmyk_ ? JCS_CMYK : JCS_RGB;
    return true;
  }

  bool guarded_decode(float* rgb, unsigned char* row) {
    if (setjmp(errors_.jump)) return false;
    jpeg_start_decompress(&cinfo_);
    const std::size_t w = cinfo_.output_width;
    const bool cmyk = cmyk_;
    while (cinfo_.output_scanline < cinfo_.output_height) {
      float* out = rgb + static_cast<std::size_t>(cinfo_.output_scanline) * w * 3;
      JSAMPROW rows[1] = {row};
      if (jpeg_read_scanlines(&cinfo_, rows, 1) != 1) break;  // only with a suspending source, which this is not
      if (cmyk) {
        for (std::size_t x = 0; x < w; ++x) {
          // PIL reads CMYK JPEGs inverted (Adobe's convention, "CMYK;I"), then convert("RGB") computes
          // 255 - k - c * (255 - k) / 255 with its rounded division by 255.
          const int nk = row[4 * x + 3];  // (255 - k) after the inversion
          for (int c = 0; c < 3; ++c) {
            const int t = (255 - row[4 * x + c]) * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            out[3 * x + c] = static_cast<float>(v) / 255.0f;
          }
        }
      } else {
        for (std::size_t i = 0; i < w * 3; ++i) out[i] = static_cast<float>(row[i]) / 255.0f;
      }
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

  [[noreturn]] void fail() const { throw Error(path_, "image", std::string("cannot decode JPEG: ") + errors_.message); }

  std::string path_;
  jpeg_decompress_struct cinfo_{};
  Errors errors_{};
  jpeg_progress_mgr progress_{};
  bool created_ = false, cmyk_ = false;
  std::vector<unsigned char> row_;
};

}  // namespace detail
}  // namespace fmviz

#endif  // FMVIZ_HAVE_LIBJPEG
