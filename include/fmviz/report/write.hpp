// A report written to a folder: image after image (in batches), each image's pictures, arrays and page in its
// own folder, an index page linking them; memory bounded by one batch, whatever the number of images.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../decode.hpp"
#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../gallery.hpp"
#include "../npy.hpp"
#include "../png.hpp"
#include "created_files.hpp"
#include "render.hpp"

namespace fmviz {

/// Told what a report run does, as it does it (every call is optional). Calls come from the thread that called
/// write_report.
class ReportObserver {
 public:
  virtual ~ReportObserver() = default;
  /// A forward over images [first, first + count) of `total` starts.
  virtual void batch_started(std::size_t /*first*/, std::size_t /*count*/, std::size_t /*total*/) {}
  /// The forward computed conv layer `number` of `count`.
  virtual void layer_done(const std::string& /*layer*/, const Shape& /*shape*/, std::size_t /*number*/, std::size_t /*count*/) {}
  /// Image `index` (in the list given) is written, in `folder`.
  virtual void image_written(std::size_t /*index*/, const std::string& /*folder*/, const ImageReport& /*report*/) {}
  /// Image `index` could not be read and is left out (the run goes on unless stop_at_bad_image).
  virtual void image_skipped(std::size_t /*index*/, const Error& /*error*/) {}
};

/// An image left out of a run, and why.
struct SkippedImage {
  std::size_t index;    ///< in the list given
  std::string message;  ///< the error, one line
};

/// What a report run wrote.
struct ReportSummary {
  std::size_t images_written = 0;
  std::vector<SkippedImage> skipped;
  std::string index_page;  ///< the page to open: the image's page for one image, else the index; empty: none
};

namespace detail {

/// Folder names from file stems, made unique ("cat", "cat-2", ...) and never one of `reserved`.
inline std::vector<std::string> unique_folder_names(const std::vector<std::string>& images, std::set<std::string> reserved) {
  std::vector<std::string> names;
  names.reserve(images.size());
  for (const std::string& path : images) {
    std::string stem = std::filesystem::path(path).stem().string();
    if (stem.empty() || stem == "." || stem == "..") stem = "image";
    std::string name = stem;
    for (int k = 2; !reserved.insert(name).second; ++k) name = stem + "-" + std::to_string(k);
    names.push_back(name);
  }
  return names;
}

/// Writes every picture (each atomically), spread over threads, largest first so that the threads finish
/// together; the files do not depend on the thread count or the order. A failure comes back as the
/// fmviz::Error of the first picture (in list order) that failed, after the loop; the pictures written are
/// in `created` either way.
inline void write_pictures(std::vector<ReportPicture>& pictures, const std::filesystem::path& dir, CreatedFiles& created) {
  std::vector<std::size_t> order(pictures.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return pictures[a].image.pixels.size() > pictures[b].image.pixels.size();
  });
  std::vector<std::exception_ptr> errors(pictures.size());
  std::vector<char> written(pictures.size(), 0);
  parallel_for(order.size(), [&](std::size_t k) {
    ReportPicture& picture = pictures[order[k]];
    const std::string path = (dir / picture.file).string();
    try {
      write_png(path, picture.image);
      written[order[k]] = 1;
    } catch (const Error&) {
      errors[order[k]] = std::current_exception();
    } catch (const std::bad_alloc&) {
      errors[order[k]] = std::make_exception_ptr(Error(path, "write", "out of memory"));
    } catch (const std::exception& e) {
      errors[order[k]] = std::make_exception_ptr(Error(path, "write", e.what()));
    } catch (...) {
      errors[order[k]] = std::make_exception_ptr(Error(path, "write", "unknown error"));
    }
    picture.image = Image8();  // done with it
  });
  for (std::size_t i = 0; i < pictures.size(); ++i)
    if (written[i]) created.add_file(dir / pictures[i].file);
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace detail

/// Writes `report` into `dir` (created if needed): its arrays, pictures and index.html, each file atomically.
/// Throws fmviz::Error naming the file that could not be written, after taking back what it wrote.
inline void write_image_report(const ImageReport& report, const std::string& dir) {
  namespace fs = std::filesystem;
  detail::CreatedFiles created;
  try {
    created.create_folders(dir);
    for (const ReportArray& a : report.arrays) {
      write_npy((fs::path(dir) / a.file).string(), a.values, a.shape);
      created.add_file(fs::path(dir) / a.file);
    }
    std::vector<ReportPicture> pictures = report.pictures;
    detail::write_pictures(pictures, dir, created);
    write_gallery((fs::path(dir) / "index.html").string(), report.page);
  } catch (...) {
    created.roll_back();
    throw;
  }
}

/// Runs `images` (paths) through the report and writes them under `out`: for one image, into `out` itself; for
/// several, into one folder per image named after the file (made unique) plus out/index.html linking them.
/// Images run in batches of Report::batch_size; each is read only when its batch comes, so memory does not grow
/// with the number of images.
///
/// An image that cannot be read is reported to the observer and skipped (the summary lists it), unless
/// ReportOptions::stop_at_bad_image. Any other failure (a file that cannot be written, say), or a bad image with
/// stop_at_bad_image, throws fmviz::Error after taking back everything the run created: a run either finishes,
/// leaving every image it wrote complete, or leaves nothing. Every file is written under a temporary name and
/// renamed, so no file is ever half-written.
inline ReportSummary write_report(const Report& report, const std::vector<std::string>& images, const std::string& out,
                                  ReportObserver* observer = nullptr) {
  namespace fs = std::filesystem;
  if (images.empty()) throw Error({}, "images", "no images to report on");
  if (out.empty()) throw Error({}, "out", "needs a folder name");
  ReportObserver quiet;
  ReportObserver& tell = observer ? *observer : quiet;
  const ReportOptions& o = report.options();
  const bool several = images.size() > 1;
  const std::vector<std::string> folders = detail::unique_folder_names(images, {"index.html"});
  const std::size_t batch = report.batch_size(images.size());

  detail::CreatedFiles created;
  ReportSummary summary;
  std::vector<GalleryIndexEntry> index;
  try {
    created.create_folders(out);
    for (std::size_t first = 0; first < images.size(); first += batch) {
      const std::size_t end = std::min(images.size(), first + batch);
      std::vector<ReportInput> inputs;
      std::vector<std::size_t> which;  // each input's index in `images`
      for (std::size_t i = first; i < end; ++i) {
        try {
          inputs.push_back({images[i], read_image(images[i], o.max_pixels)});
          which.push_back(i);
        } catch (const std::bad_alloc&) {
          const Error e(images[i], "image", "out of memory while decoding it");
          if (o.stop_at_bad_image) throw e;
          summary.skipped.push_back({i, e.what()});
          tell.image_skipped(i, e);
        } catch (const Error& e) {
          if (o.stop_at_bad_image) throw;
          summary.skipped.push_back({i, e.what()});
          tell.image_skipped(i, e);
        }
      }
      if (inputs.empty()) continue;
      std::vector<fs::path> dirs;
      for (std::size_t i : which) {
        dirs.push_back(several ? fs::path(out) / folders[i] : fs::path(out));
        created.create_folders(dirs.back());
      }
      tell.batch_started(first, end - first, images.size());
      RenderHooks hooks;
      hooks.on_layer = [&](const std::string& layer, const Shape& shape, std::size_t number, std::size_t count) {
        tell.layer_done(layer, shape, number, count);
      };
      hooks.array_sink = [&](std::size_t k, ReportArray& array) {  // written at once: no batch of arrays is held
        const fs::path file = dirs[k] / array.file;
        write_npy(file.string(), array.values, array.shape);
        created.add_file(file);
      };
      std::vector<ImageReport> reports = report.render(inputs, hooks);
      inputs.clear();
      for (std::size_t k = 0; k < reports.size(); ++k) {
        ImageReport& r = reports[k];
        const std::size_t i = which[k];
        if (several) r.page.back_link = "../index.html";
        detail::write_pictures(r.pictures, dirs[k], created);
        write_gallery((dirs[k] / "index.html").string(), r.page);
        created.add_file(dirs[k] / "index.html");
        ++summary.images_written;
        index.push_back({fs::path(images[i]).filename().string(), folders[i], folders[i] + "/input.png"});
        tell.image_written(i, dirs[k].string(), r);
        r = ImageReport();
      }
    }
    if (summary.images_written == 0) {
      created.roll_back();  // only the output folder, if this run made it
      return summary;
    }
    if (several) {
      const fs::path page = fs::path(out) / "index.html";
      write_gallery_index(page.string(), "fmviz: " + std::to_string(index.size()) + (index.size() == 1 ? " image" : " images"), index);
      created.add_file(page);
    }
    summary.index_page = (fs::path(out) / "index.html").string();
  } catch (...) {
    created.roll_back();
    throw;
  }
  created.keep();
  return summary;
}

}  // namespace fmviz
