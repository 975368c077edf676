// fmviz: run images through VGG16 and write every conv layer's feature maps as pictures, arrays and a gallery.
#include <fmviz/vgg.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "options.hpp"

namespace fs = std::filesystem;
using fmviz_cli::Options;
using fmviz_cli::UsageError;

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_since(Clock::time_point start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", std::chrono::duration<double>(Clock::now() - start).count());
  return buf;
}

bool stderr_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
  return ::isatty(2) != 0;
#else
  return false;
#endif
}

// What this run has created, so that a failure can take it all back: no run leaves part of its output.
struct CreatedOutput {
  std::vector<fs::path> files, folders;  // in creation order

  // Creates `dir` and the parents it needs, remembering the ones that did not exist.
  void create_folders(const fs::path& dir) {
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw fmviz::Error(dir.string(), "out", "cannot create output folder" + (ec ? ": " + ec.message() : std::string()));
    folders.insert(folders.end(), missing.rbegin(), missing.rend());
  }

  void roll_back() noexcept {
    std::error_code ec;
    for (auto f = files.rbegin(); f != files.rend(); ++f) fs::remove(*f, ec);
    for (auto d = folders.rbegin(); d != folders.rend(); ++d) fs::remove(*d, ec);  // only removes empty folders
    files.clear();
    folders.clear();
  }
};

CreatedOutput created;

// The names fmviz writes at the top of the output folder: no image's folder may take them.
const std::set<std::string> reserved_names = {"index.html"};

// Folder names from file stems, made unique ("cat", "cat-2", ...) and never one of reserved_names.
std::vector<std::string> output_folders(const std::vector<std::string>& images) {
  std::vector<std::string> names;
  std::set<std::string> used = reserved_names;
  for (const std::string& path : images) {
    std::string stem = fs::path(path).stem().string();
    if (stem.empty() || stem == "." || stem == "..") stem = "image";
    std::string name = stem;
    for (int k = 2; !used.insert(name).second; ++k) name = stem + "-" + std::to_string(k);
    names.push_back(name);
  }
  return names;
}

std::vector<std::size_t> all_channels(std::size_t count) {
  std::vector<std::size_t> channels(count);
  for (std::size_t c = 0; c < count; ++c) channels[c] = c;
  return channels;
}

// The conv layers to draw, in network order, and the layer the forward can stop after.
struct Plan {
  std::vector<std::string> layers;
  std::string stop_after;
};

Plan plan_layers(const fmviz::Network<float>& net, const Options& o) {
  std::vector<std::string> available;
  const std::size_t last = net.last_index(o.last_layer);
  for (std::size_t i = 0; i <= last; ++i)
    if (net.layers()[i].info.kind == fmviz::LayerKind::conv2d) available.push_back(net.layers()[i].info.name);
  Plan plan{available, o.last_layer};
  if (o.layers.empty()) return plan;
  for (const std::string& name : o.layers)
    if (std::find(available.begin(), available.end(), name) == available.end()) {
      std::string list;
      for (const auto& a : available) list += (list.empty() ? "" : ",") + a;
      throw UsageError{"--layers: '" + name + "' is not a conv layer of this network (accepted: " + list + ")"};
    }
  plan.layers.clear();
  for (const std::string& name : available)
    if (std::find(o.layers.begin(), o.layers.end(), name) != o.layers.end()) plan.layers.push_back(name);
  plan.stop_after = plan.layers.back();  // nothing after the last chosen layer is needed
  return plan;
}

std::vector<std::pair<std::string, std::string>> options_table(const Options& o, const Plan& plan) {
  const fmviz::GridOptions& g = o.grid;
  return {{"weights", o.weights},
          {"tap", o.tap == fmviz::Tap::conv ? "conv output, before ReLU" : "after ReLU"},
          {"preset", o.preset == fmviz::Preset::torchvision ? "torchvision" : "caffe"},
          {"input size", std::to_string(o.size) + " x " + std::to_string(o.size)},
          {"layers", o.layers.empty() ? "all conv layers" : plan.layers.front() + " ... " + plan.layers.back()},
          {"channels", fmviz::to_string(g.channels)},
          {"normalisation", std::string(fmviz::to_string(g.scope)) + (g.clip_percent > 0 ? ", clipped at " + std::to_string(g.clip_percent) + "%" : "")},
          {"colour map", fmviz::to_string(g.colormap)},
          {"columns", std::to_string(g.columns)},
          {"minimum cell", g.min_cell ? std::to_string(g.min_cell) + " px" : "native size"},
          {"threads", std::to_string(fmviz::thread_count())}};
}

// A picture to write. They are collected while the network runs and written together afterwards,
// encoded in parallel: PNG compression, not the network, would otherwise dominate the run.
struct Picture {
  fs::path path;
  fmviz::Image8 image;
};

// Writes every picture (each atomically), spread over threads, largest first so that the threads
// finish together. The files do not depend on the thread count or the order. A failure comes back
// as the fmviz::Error of the first picture (in list order) that failed, after the loop.
void write_pictures(std::vector<Picture>& pictures) {
  std::vector<std::size_t> order(pictures.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return pictures[a].image.pixels.size() > pictures[b].image.pixels.size();
  });
  std::vector<std::exception_ptr> errors(pictures.size());
  std::vector<char> written(pictures.size(), 0);
  fmviz::detail::parallel_for(order.size(), [&](std::size_t k) {
    Picture& picture = pictures[order[k]];
    try {
      fmviz::write_png(picture.path.string(), picture.image);
      written[order[k]] = 1;
    } catch (const fmviz::Error&) {
      errors[order[k]] = std::current_exception();
    } catch (const std::bad_alloc&) {
      errors[order[k]] = std::make_exception_ptr(fmviz::Error(picture.path.string(), "write", "out of memory"));
    } catch (const std::exception& e) {
      errors[order[k]] = std::make_exception_ptr(fmviz::Error(picture.path.string(), "write", e.what()));
    } catch (...) {
      errors[order[k]] = std::make_exception_ptr(fmviz::Error(picture.path.string(), "write", "unknown error"));
    }
    picture.image = fmviz::Image8();  // done with it
  });
  for (std::size_t i = 0; i < pictures.size(); ++i)
    if (written[i]) created.files.push_back(pictures[i].path);
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
}

// Bytes one image needs during a forward: the largest input and output alive together, plus, when every
// layer is recorded first (--norm network), the recorded layers.
std::size_t bytes_per_image(const fmviz::Network<float>& net, const Options& o, const Plan& plan, bool record_all) {
  fmviz::Shape shape{1, 3, o.size, o.size};
  std::size_t largest_pair = 0, recorded = 0;
  const std::size_t last = net.last_index(plan.stop_after);
  for (std::size_t i = 0; i <= last; ++i) {
    const fmviz::Shape out = std::visit([&](const auto& op) { return op.output_shape(shape); }, net.layers()[i].op);
    largest_pair = std::max(largest_pair, (fmviz::shape_size(shape) + fmviz::shape_size(out)) * sizeof(float));
    if (net.layers()[i].info.kind == fmviz::LayerKind::conv2d &&
        std::find(plan.layers.begin(), plan.layers.end(), net.layers()[i].info.name) != plan.layers.end())
      recorded += fmviz::shape_size(out) * sizeof(float);
    shape = out;
  }
  return largest_pair + (record_all ? recorded : 0);
}

// Checks the size of every grid the run will draw before anything runs: a picture too large fails the run
// at once, not after minutes of forwards.
void check_picture_sizes(const fmviz::Network<float>& net, const Options& o, const Plan& plan) {
  fmviz::Shape shape{1, 3, o.size, o.size};
  const std::size_t last = net.last_index(plan.stop_after);
  for (std::size_t i = 0; i <= last; ++i) {
    const auto& layer = net.layers()[i];
    shape = std::visit([&](const auto& op) { return op.output_shape(shape); }, layer.op);
    if (layer.info.kind != fmviz::LayerKind::conv2d) continue;
    if (std::find(plan.layers.begin(), plan.layers.end(), layer.info.name) == plan.layers.end()) continue;
    try {
      (void)fmviz::grid_size(shape, o.grid);
    } catch (const fmviz::Error& e) {
      throw fmviz::Error({}, layer.info.name, std::string(e.what()) + " at --size " + std::to_string(o.size));
    }
  }
}

// Images per forward: --batch, else as many as fit in batch_memory_budget, at most default_batch_limit.
constexpr std::size_t batch_memory_budget = std::size_t(1) << 30;
constexpr std::size_t default_batch_limit = 8;

std::size_t choose_batch(const Options& o, std::size_t per_image) {
  if (o.batch) return std::min(o.batch, o.images.size());
  const std::size_t fits = std::max<std::size_t>(1, batch_memory_budget / std::max<std::size_t>(per_image, 1));
  return std::min({fits, default_batch_limit, o.images.size()});
}

// One image's output folder and page, filled while its batch runs.
struct ImageJob {
  std::size_t index = 0;  // in o.images
  fs::path dir;
  fmviz::RgbImage seen;   // what the network sees: the photo resized
  fmviz::GalleryPage page;
  std::vector<Picture> pictures;
  std::size_t drawn = 0;
};

int run(const Options& o) {
  const bool show_progress = !o.quiet && (o.progress || stderr_is_terminal());
  const auto start = Clock::now();
  if (o.threads > 0) {
    // More threads than cores only make them wait for each other (40x slower at 1024 on 2 cores).
    const int threads = std::min(o.threads, fmviz::core_count());
    if (threads < o.threads && !o.quiet)
      std::cerr << "fmviz: note: --threads " << o.threads << " is more than the " << threads << " cores here; using " << threads << "\n";
    fmviz::set_thread_count(threads);
  }

  fmviz::LoadOptions load;
  load.last_layer = o.last_layer.empty() ? "conv5_3" : o.last_layer;  // the classifier is never drawn: don't load it
  load.algorithm = o.algorithm;
  // Images run in batches (below), so a forward usually serves several images: transforming the Winograd weights
  // during each forward then costs little and needs a quarter of the memory of transforming them all at load.
  // Only one image per forward for several images (--batch 1) transforms them once, at load.
  load.winograd_weights = o.batch == 1 && o.images.size() > 1 ? fmviz::WinogradWeights::at_build : fmviz::WinogradWeights::per_forward;
  const fmviz::Network<float> net = fmviz::load_vgg16<float>(o.weights, load);
  if (!o.quiet)
    for (const std::string& note : net.notes()) std::cerr << "fmviz: note: " << note << "\n";
  const Plan plan = plan_layers(net, o);
  if (o.filters && !net.has_layer("conv1_1")) throw fmviz::Error(o.weights, "conv1_1", "--filters needs conv1_1");
  net.output_shape({1, 3, o.size, o.size}, plan.stop_after);  // a size the network cannot take fails here
  check_picture_sizes(net, o, plan);
  const bool record_all = o.grid.scope == fmviz::NormScope::network;
  const std::size_t batch = choose_batch(o, bytes_per_image(net, o, plan, record_all));
  const std::size_t forwards = (o.images.size() + batch - 1) / batch;
  if (show_progress)
    std::cerr << "loaded " << o.weights << "; " << o.images.size() << (o.images.size() == 1 ? " image" : " images") << " in "
              << forwards << (forwards == 1 ? " forward" : " forwards") << " of up to " << batch << " (" << seconds_since(start) << ")\n";

  // Decode every image before writing anything: a bad image fails the run with no output at all.
  fmviz::ImageOptions image_options;
  image_options.size = o.size;
  image_options.preset = o.preset;
  image_options.max_pixels = o.max_pixels;
  std::vector<fmviz::RgbImage> photos;
  for (const std::string& path : o.images) photos.push_back(fmviz::read_image(path, image_options.max_pixels));
  std::size_t convs_run = 0;
  for (std::size_t i = 0; i <= net.last_index(plan.stop_after); ++i)
    convs_run += net.layers()[i].info.kind == fmviz::LayerKind::conv2d;

  const std::vector<std::string> folders = output_folders(o.images);
  const bool several = o.images.size() > 1;
  std::vector<fmviz::GalleryIndexEntry> index;
  for (std::size_t first = 0; first < photos.size(); first += batch) {
    const std::size_t count = std::min(batch, photos.size() - first);
    std::vector<ImageJob> jobs(count);
    std::vector<fmviz::Tensor<float>> inputs;
    for (std::size_t k = 0; k < count; ++k) {
      ImageJob& job = jobs[k];
      job.index = first + k;
      const std::size_t n = job.index;
      job.dir = several ? fs::path(o.out) / folders[n] : fs::path(o.out);
      created.create_folders(job.dir);
      job.seen = o.size == photos[n].width && o.size == photos[n].height ? photos[n] : fmviz::resize_bilinear(photos[n], o.size, o.size);
      job.page.title = "fmviz: " + fs::path(o.images[n]).filename().string();
      job.page.input_name = o.images[n];
      job.page.input_picture = "input.png";
      job.page.options = options_table(o, plan);
      if (several) job.page.back_link = "../index.html";
      job.pictures.push_back({job.dir / "input.png", fmviz::to_image8(job.seen)});
      inputs.push_back(fmviz::to_tensor<float>(job.seen, o.preset));
    }
    fmviz::Tensor<float> input = count == 1 ? std::move(inputs.front()) : fmviz::stack_batch(inputs);
    inputs.clear();

    // Draws one recorded layer of one image, a (1,C,H,W) tensor: its grid (and overlay, and .npy), kept as
    // pictures for later.
    const auto draw = [&](ImageJob& job, const std::string& name, const fmviz::Tensor<float>& a, const fmviz::GridOptions& grid_options) {
      fmviz::Grid grid = fmviz::make_grid(a, grid_options);
      if (o.npy) {
        fmviz::write_npy((job.dir / (name + ".npy")).string(), a, {a.dim(1), a.dim(2), a.dim(3)});
        created.files.push_back(job.dir / (name + ".npy"));
      }
      const fmviz::ValueRange range = fmviz::value_range(a);
      fmviz::GalleryLayer layer{name, name + ".png", grid.image.width, grid.image.height, {a.dim(1), a.dim(2), a.dim(3)},
                                range.lo, range.hi, grid.channels, {}};
      if (o.grid.channels.kind == fmviz::ChannelSelection::Kind::top) layer.note = "the channels of highest mean activation, highest first";
      job.page.layers.push_back(layer);
      job.pictures.push_back({job.dir / (name + ".png"), std::move(grid.image)});
      if (o.overlay) {
        fmviz::OverlayOptions overlay_options;
        if (grid.channels.size() == 1) overlay_options.channel = grid.channels.front();
        fmviz::Image8 over = fmviz::overlay(photos[job.index], a, overlay_options);
        job.page.layers.push_back({name + " overlay", name + "_overlay.png", over.width, over.height, layer.shape, range.lo, range.hi,
                                   overlay_options.channel ? std::vector<std::size_t>{*overlay_options.channel} : all_channels(a.dim(1)),
                                   overlay_options.channel ? "this channel over the photo" : "the mean over all channels, over the photo"});
        job.pictures.push_back({job.dir / (name + "_overlay.png"), std::move(over)});
      }
      ++job.drawn;
    };
    // Draws a layer of the batch for every image: from the network's own output for a batch of one, else
    // from a copy of each image's part.
    const auto draw_batch = [&](const std::string& name, const fmviz::Tensor<float>& output) {
      for (std::size_t k = 0; k < count; ++k) {
        if (count == 1) draw(jobs[k], name, output, o.grid);
        else draw(jobs[k], name, fmviz::batch_item(output, k), o.grid);
      }
    };

    // Each layer is drawn as soon as the network has computed it, so no copy of it is kept. Only a range over
    // the whole network needs every layer first: then they are recorded and drawn after the forward.
    fmviz::ActivationRecorder<float> recorder(o.tap, plan.layers);
    std::string pending;  // a conv layer whose ReLU output is the one to draw (--tap relu)
    const auto wanted = [&](const std::string& name) {
      return std::find(plan.layers.begin(), plan.layers.end(), name) != plan.layers.end();
    };
    std::string which;
    if (several) which = count == 1 ? "  " + o.images[first] : "  images " + std::to_string(first + 1) + "-" + std::to_string(first + count) + " of " + std::to_string(o.images.size());
    std::size_t done = 0;
    auto visitor = [&](const fmviz::LayerInfo& info, const fmviz::Tensor<float>& output) {
      if (show_progress && info.kind == fmviz::LayerKind::conv2d)
        std::cerr << "[" << ++done << "/" << convs_run << "] " << info.name << " " << fmviz::shape_to_string(output.shape()) << " ("
                  << seconds_since(start) << ")" << which << "\n";
      if (record_all) {
        recorder(info, output);
        return;
      }
      // The ActivationRecorder's choice of tensor, without its copy.
      if (info.kind == fmviz::LayerKind::conv2d) {
        pending.clear();
        if (!wanted(info.name)) return;
        if (o.tap == fmviz::Tap::conv) draw_batch(info.name, output);
        else pending = info.name;
      } else if (info.kind == fmviz::LayerKind::relu && !pending.empty()) {
        draw_batch(pending, output);
        pending.clear();
      } else {
        pending.clear();
      }
    };
    net.forward(std::move(input), visitor, plan.stop_after);
    if (record_all) {
      for (std::size_t k = 0; k < count; ++k) {
        // This image's part of every recorded layer, its range over all of them, then its grids.
        std::vector<fmviz::Tensor<float>> parts;
        std::vector<const fmviz::Tensor<float>*> pointers;
        for (const std::string& name : recorder.names())
          parts.push_back(count == 1 ? recorder.at(name) : fmviz::batch_item(recorder.at(name), k));
        for (const auto& part : parts) pointers.push_back(&part);
        fmviz::GridOptions grid_options = o.grid;
        grid_options.network_range = fmviz::network_range(pointers, grid_options.clip_percent);
        for (std::size_t l = 0; l < parts.size(); ++l) draw(jobs[k], recorder.names()[l], parts[l], grid_options);
      }
      recorder.clear();
    }

    for (ImageJob& job : jobs) {
      if (o.filters) {
        fmviz::FilterGridOptions filter_options;
        filter_options.bgr = o.preset == fmviz::Preset::caffe;
        filter_options.scope = fmviz::NormScope::channel;  // each filter to its own range: the classic colour blobs and edges
        const auto& conv = std::get<fmviz::Conv2d<float>>(net.layer("conv1_1").op);
        fmviz::Grid filters = fmviz::filter_grid(conv, filter_options);
        const auto& w = conv.weight();
        job.page.layers.push_back({"conv1_1 filters", "conv1_1_filters.png", filters.image.width, filters.image.height,
                                   {w.dim(0), w.dim(1), w.dim(2), w.dim(3)}, filters.range.lo, filters.range.hi, filters.channels,
                                   "the weights of conv1_1, one colour patch per filter, each scaled to its own range"});
        job.pictures.push_back({job.dir / "conv1_1_filters.png", std::move(filters.image)});
      }
      write_pictures(job.pictures);
      fmviz::write_gallery((job.dir / "index.html").string(), job.page);
      created.files.push_back(job.dir / "index.html");
      index.push_back({fs::path(o.images[job.index]).filename().string(), folders[job.index], folders[job.index] + "/input.png"});
      if (!o.quiet)
        std::cerr << "wrote " << job.drawn << " layers to " << job.dir.string() << " (" << seconds_since(start) << ")\n";
    }
  }
  if (several) {
    fmviz::write_gallery_index((fs::path(o.out) / "index.html").string(), "fmviz: " + std::to_string(index.size()) + " images", index);
    created.files.push_back(fs::path(o.out) / "index.html");
  }
  if (!o.quiet) std::cerr << "open " << (fs::path(o.out) / "index.html").string() << " to see them\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = fmviz_cli::parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "fmviz: " << e.message << " (see fmviz --help)\n";
    return 2;
  }
  if (options.help) {
    std::cout << fmviz_cli::usage_text;
    return 0;
  }
  if (options.version) {
    std::cout << "fmviz " << FMVIZ_VERSION_STRING << " (images: " << fmviz::image_decoders() << ")\n";
    return 0;
  }
  try {
    return run(options);
  } catch (const UsageError& e) {
    created.roll_back();
    std::cerr << "fmviz: " << e.message << " (see fmviz --help)\n";
    return 2;
  } catch (const fmviz::Error& e) {
    std::cerr << "fmviz: error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "fmviz: error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "fmviz: error: " << e.what() << "\n";
  }
  created.roll_back();  // silently: the error stays one line
  return 1;
}
