// fmviz: run images through VGG16 and write every conv layer's feature maps as pictures and arrays.
#include <fmviz/image.hpp>
#include <fmviz/npy.hpp>
#include <fmviz/png.hpp>
#include <fmviz/vgg.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace fs = std::filesystem;

namespace {

constexpr const char* usage_text = R"(usage: fmviz --weights FILE --image IMG [--image IMG ...] [--out DIR] [options]

Runs each image through VGG16 and writes, for every conv layer (conv1_1 ... conv5_3),
LAYER.png with its first 16 feature maps, each min-max scaled to grey.

required:
  -w, --weights FILE      VGG16 weights: raw float32 .bin (conv stack or full model,
                          torchvision state_dict order) or .safetensors (F32/F16/BF16,
                          torchvision or timm names)
  -i, --image FILE        an image (JPEG, PNG, BMP, TGA, GIF, PSD, HDR); repeat for several

options:
  -o, --out DIR           output folder (default: fmviz-out); with several images, one
                          sub-folder per image, named after the file
      --npy               also write LAYER.npy per conv layer: float32, C order, shape (C,H,W)
      --tap conv|relu     record the conv output before ReLU (default) or after it
      --last-layer NAME   run (and load weights) only up to this layer, e.g. conv3_1; needed
                          for raw files that hold only the first conv layers
      --preset torchvision|caffe
                          input normalisation: ImageNet mean/std on RGB (default), or the
                          original VGG release's BGR 0-255 minus the mean
      --size N            resize images to N x N before the network (default 224)
      --threads N         threads to use (default: all cores)
      --progress          report progress on stderr even when it is not a terminal
  -q, --quiet             no progress or notes on stderr
  -h, --help              show this help and exit
      --version           show the version and exit

Exit status: 0 on success, 1 when an input or output fails, 2 on a bad command line.
Every file is written under a temporary name and renamed, so a failure leaves no partial file.
)";

struct UsageError {
  std::string message;
};

struct Options {
  std::string weights;
  std::vector<std::string> images;
  std::string out = "fmviz-out";
  bool npy = false;
  fmviz::Tap tap = fmviz::Tap::conv;
  std::string last_layer;
  fmviz::Preset preset = fmviz::Preset::torchvision;
  std::size_t size = 224;
  int threads = 0;
  bool progress = false, quiet = false, help = false, version = false;
};

std::size_t parse_count(const std::string& flag, const std::string& value, std::size_t min, std::size_t max) {
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    if (value.empty() || value[0] == '-' || value[0] == '+') throw std::invalid_argument(value);
    v = std::stoull(value, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos != value.size() || pos == 0 || v < min || v > max)
    throw UsageError{flag + " expects a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + value + "'"};
  return static_cast<std::size_t>(v);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    auto take_value = [&]() -> std::string {
      if (has_inline_value) return value;
      // "-i --out x" is a forgotten value, not an image named "--out" (write --image=-odd-name for that).
      if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] != '\0')) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    auto no_value = [&] {
      if (has_inline_value) throw UsageError{arg + " takes no value"};
    };
    if (arg == "-h" || arg == "--help") { no_value(); o.help = true; }
    else if (arg == "--version") { no_value(); o.version = true; }
    else if (arg == "-w" || arg == "--weights") {
      if (!o.weights.empty()) throw UsageError{"--weights given twice"};
      o.weights = take_value();
    } else if (arg == "-i" || arg == "--image") o.images.push_back(take_value());
    else if (arg == "-o" || arg == "--out") o.out = take_value();
    else if (arg == "--npy") { no_value(); o.npy = true; }
    else if (arg == "--tap") {
      const std::string v = take_value();
      if (v == "conv") o.tap = fmviz::Tap::conv;
      else if (v == "relu") o.tap = fmviz::Tap::relu;
      else throw UsageError{"--tap expects conv or relu, got '" + v + "'"};
    } else if (arg == "--last-layer") o.last_layer = take_value();
    else if (arg == "--preset") {
      const std::string v = take_value();
      if (v == "torchvision") o.preset = fmviz::Preset::torchvision;
      else if (v == "caffe") o.preset = fmviz::Preset::caffe;
      else throw UsageError{"--preset expects torchvision or caffe, got '" + v + "'"};
    } else if (arg == "--size") { o.size = parse_count("--size", take_value(), 32, 4096); }
    else if (arg == "--threads") o.threads = static_cast<int>(parse_count("--threads", take_value(), 1, 1024));
    else if (arg == "--progress") { no_value(); o.progress = true; }
    else if (arg == "-q" || arg == "--quiet") { no_value(); o.quiet = true; }
    else if (!arg.empty() && arg[0] == '-') throw UsageError{"unknown option '" + arg + "'"};
    else throw UsageError{"unexpected argument '" + arg + "' (images are given with --image)"};
  }
  if (o.help || o.version) return o;
  if (o.weights.empty()) throw UsageError{"--weights FILE is required"};
  if (o.images.empty()) throw UsageError{"at least one --image FILE is required"};
  if (o.out.empty()) throw UsageError{"--out needs a folder name"};
  return o;
}

bool stderr_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
  return ::isatty(2) != 0;
#else
  return false;
#endif
}

// The first 16 channels side by side, each min-max scaled to grey.
fmviz::Image8 channel_strip(const fmviz::Tensor<float>& a) {
  const std::size_t c = std::min<std::size_t>(16, a.dim(1)), h = a.dim(2), w = a.dim(3), gap = 2;
  fmviz::Image8 img(c * w + (c - 1) * gap, h, 1, 255);
  for (std::size_t k = 0; k < c; ++k) {
    const float* plane = a.channel(0, k);
    const auto [lo, hi] = std::minmax_element(plane, plane + h * w);
    const float range = *hi - *lo;
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) {
        const float v = range > 0 ? (plane[y * w + x] - *lo) / range : 0.f;
        *img.pixel(k * (w + gap) + x, y) = static_cast<std::uint8_t>(v * 255.f + 0.5f);
      }
  }
  return img;
}

// Folder names from file stems, made unique ("cat", "cat-2", ...).
std::vector<std::string> output_folders(const std::vector<std::string>& images) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const std::string& path : images) {
    std::string stem = fs::path(path).stem().string();
    if (stem.empty() || stem == "." || stem == "..") stem = "image";
    std::string name = stem;
    for (int k = 2; !used.insert(name).second; ++k) name = stem + "-" + std::to_string(k);
    names.push_back(name);
  }
  return names;
}

using Clock = std::chrono::steady_clock;

std::string seconds_since(Clock::time_point start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", std::chrono::duration<double>(Clock::now() - start).count());
  return buf;
}

int run(const Options& o) {
  const bool show_progress = !o.quiet && (o.progress || stderr_is_terminal());
  const auto start = Clock::now();
  if (o.threads > 0) fmviz::set_thread_count(o.threads);

  fmviz::LoadOptions load;
  load.last_layer = o.last_layer;
  const fmviz::Network<float> net = fmviz::load_vgg16<float>(o.weights, load);
  if (!o.quiet)
    for (const std::string& note : net.notes()) std::cerr << "fmviz: note: " << note << "\n";
  if (show_progress) std::cerr << "loaded " << o.weights << " (" << seconds_since(start) << ")\n";

  // Decode every image before writing anything: a bad image fails the run with no output at all.
  fmviz::ImageOptions image_options;
  image_options.size = o.size;
  image_options.preset = o.preset;
  std::vector<fmviz::Tensor<float>> inputs;
  for (const std::string& path : o.images) {
    inputs.push_back(fmviz::load_image<float>(path, image_options));
    net.output_shape(inputs.back().shape(), o.last_layer);  // a size the network cannot take fails here
  }

  std::size_t convs = 0;
  const std::size_t last = net.last_index(o.last_layer);
  for (std::size_t i = 0; i <= last; ++i) convs += net.layers()[i].info.kind == fmviz::LayerKind::conv2d;

  const std::vector<std::string> folders = output_folders(o.images);
  for (std::size_t n = 0; n < inputs.size(); ++n) {
    const fs::path dir = o.images.size() == 1 ? fs::path(o.out) : fs::path(o.out) / folders[n];
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) throw fmviz::Error(dir.string(), "out", "cannot create output folder" + (ec ? ": " + ec.message() : std::string()));

    fmviz::ActivationRecorder<float> recorder(o.tap);
    std::size_t done = 0;
    auto visitor = [&](const fmviz::LayerInfo& info, const fmviz::Tensor<float>& output) {
      recorder(info, output);
      if (show_progress && info.kind == fmviz::LayerKind::conv2d)
        std::cerr << "[" << ++done << "/" << convs << "] " << info.name << " " << fmviz::shape_to_string(output.shape())
                  << " (" << seconds_since(start) << ")" << (o.images.size() > 1 ? "  " + o.images[n] : "") << "\n";
    };
    net.forward(std::move(inputs[n]), visitor, o.last_layer);

    for (const std::string& name : recorder.names()) {
      const fmviz::Tensor<float>& a = recorder.at(name);
      fmviz::write_png((dir / (name + ".png")).string(), channel_strip(a));
      if (o.npy) fmviz::write_npy((dir / (name + ".npy")).string(), a, {a.dim(1), a.dim(2), a.dim(3)});
    }
    if (!o.quiet) std::cerr << "wrote " << recorder.size() << " layers to " << dir.string() << " (" << seconds_since(start) << ")\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "fmviz: " << e.message << " (see fmviz --help)\n";
    return 2;
  }
  if (options.help) {
    std::cout << usage_text;
    return 0;
  }
  if (options.version) {
    std::cout << "fmviz " << FMVIZ_VERSION_MAJOR << "." << FMVIZ_VERSION_MINOR << "." << FMVIZ_VERSION_PATCH << "\n";
    return 0;
  }
  try {
    return run(options);
  } catch (const fmviz::Error& e) {
    std::cerr << "fmviz: error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "fmviz: error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "fmviz: error: " << e.what() << "\n";
  }
  return 1;
}
