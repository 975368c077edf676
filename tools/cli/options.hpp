// The fmviz command line: its options, their defaults and their parsing.
#pragma once

#include <fmviz/vgg.hpp>

#include <filesystem>
#include <iostream>
#include <optional>
#include <system_error>
#include <string>
#include <vector>

namespace fmviz_cli {

inline constexpr const char* usage_text = R"(usage: fmviz --weights FILE --image IMG|DIR [--image ...] [--images-from LIST] [--out DIR] [options]
       fmviz dream --weights FILE --layer NAME [options]   (what channels want to see: fmviz dream --help)
       fmviz atlas --weights FILE --images DIR --out DIR [options]   (each channel's top images of a dataset: fmviz atlas --help)

Runs each image through VGG16 and writes, for every conv layer (conv1_1 ... conv5_3), LAYER.png:
a grid of its feature maps (by default the classic tutorial's figure: the first 16 channels in
2 rows x 8 columns, each channel min-max scaled, grey), plus index.html showing them all.

required:
  -w, --weights FILE      VGG16 weights: raw float32 .bin (conv stack or full model, torchvision
                          state_dict order) or .safetensors (F32/F16/BF16, torchvision or timm names)
  -i, --image FILE|DIR    an image (JPEG, PNG, BMP, TGA, GIF, PSD), or a folder: every image in it,
                          sorted by name; repeat for several
  -r, --recursive         with --image DIR, also the images in the folders below it
      --images-from LIST  the images listed in the file LIST, one path per line ('-': standard
                          input; blank lines and lines starting with # are left out)

output:
  -o, --out DIR           output folder (default: fmviz-out); with several images, one sub-folder
                          per image, named after the file, and an index.html linking them
      --npy               also write LAYER.npy per conv layer: float32, C order, shape (C,H,W) (and
                          each map of --cam and --saliency)
      --overlay           also write LAYER_overlay.png: the layer's mean over all channels (or the
                          one channel, if only one is shown) upsampled and coloured over the photo
      --filters           also write conv1_1_filters.png: conv1_1's 64 filters as colour patches
      --classify          also run the classifier (the weight file must hold fc6 ... fc8): print the
                          top 5 classes with their probabilities and show them on the page

why (these need the classifier too; each adds pictures and a section to the page):
      --cam [CLASS]       class activation maps over the image: where the evidence for CLASS lies
                          (a number 0-999 or a name such as tabby; default: each image's top class)
      --cam-layer NAME    the conv layer the maps are made at (default conv5_3; after its ReLU)
      --cam-method LIST   gradcam, gradcam++, layercam (default: all three; they share one backward)
      --saliency [LIST]   saliency maps for the same class: vanilla (the gradient), smoothgrad,
                          guided (guided backpropagation); default: all three
      --smoothgrad-samples N
                          noisy copies SmoothGrad averages (default 25; each costs a forward and a
                          backward)
      --smoothgrad-noise X
                          their noise's standard deviation over the image's value range (default 0.15)
      --seed N            SmoothGrad's noise seed (default 0): the same seed, the same maps

what is drawn:
      --layers LIST       only these conv layers, e.g. conv1_1,conv3_3 (the network stops after the
                          last one)
      --channels SPEC     16 (the first 16, default), all, or a list such as 0-7,42
      --top K             the K channels with the highest mean activation instead
      --tap conv|relu     the conv output before ReLU (default) or after it
      --cols N            cells per row (default 8)
      --cell PX           enlarge small maps (nearest) until a cell is at least PX wide and high
                          (default 112, so 14x14 maps stay visible; 0 keeps native size)
      --norm channel|layer|network
                          scale each channel to its own min-max (default), or share one range per
                          layer, or one across every layer run
      --clip PCT          fit the range to the PCT-th and (100-PCT)-th percentiles (0 <= PCT < 50)
      --colormap NAME     grey (default), viridis, magma, inferno, plasma, turbo, or diverging
                          (blue-white-red, white at zero: for signed pre-ReLU values)
      --labels            channel number in each cell
      --legend            a colour bar with the value range under each grid

network:
      --last-layer NAME   run (and load weights) only up to this layer, e.g. conv3_1; needed for raw
                          files that hold only the first conv layers
      --preset torchvision|caffe
                          input normalisation: ImageNet mean/std on RGB (default), or the original
                          VGG release's BGR 0-255 minus the mean
      --size N            resize images to N x N before the network (default 224)
      --max-pixels N      refuse images of more than N pixels (width x height) before decoding
                          them (default 100000000: 100 megapixels take about 1.2 GB as floats)
      --threads N         threads to use (default and most: all cores)
      --batch N           images per forward (default: up to 8, as many as fit in 1 GiB of layer
                          outputs); the pictures do not depend on it
      --conv-algorithm auto|gemm|winograd
                          how the conv layers compute: Winograd (F(6x6,3x3) up to 128 channels,
                          F(4x4,3x3) above) for the 3x3 layers with 16 or more channels and
                          im2col + GEMM for the rest (auto, default), GEMM everywhere (the
                          reference path), or Winograd for every 3x3 layer

bad images:
      --fail-fast         stop at the first image that cannot be read and take back the run's
                          output; by default such an image is reported, skipped, and the run goes
                          on, then exits with status 1

messages:
      --progress          report progress on stderr even when it is not a terminal (on a terminal,
                          several images show a progress bar with the time left)
  -q, --quiet             no progress or notes on stderr
  -h, --help              show this help and exit
      --version           show the version and exit

Exit status: 0 on success, 1 when an input or output fails (or an image was skipped), 2 on a bad
command line. Every file is written under a temporary name and renamed, so no file is ever
half-written; a run that fails takes back everything it wrote, and a run that skips an image
leaves every other image's output complete.
)";

struct UsageError {
  std::string message;
};

struct Options {
  std::string weights;
  std::vector<std::string> images;       // files and folders, as given
  std::vector<std::string> image_lists;  // --images-from
  bool recursive = false;
  std::string out = "fmviz-out";
  std::string last_layer;
  // What is drawn and how (layers, tap, grid, preset, size, pixel limit, npy, overlay, filters, batch,
  // --fail-fast): the library's own options, filled in as the flags are read.
  fmviz::ReportOptions report;
  int threads = 0;
  fmviz::ConvAlgorithm algorithm = fmviz::ConvAlgorithm::automatic;
  bool progress = false, quiet = false, help = false, version = false;
};

inline std::size_t parse_count(const std::string& flag, const std::string& value, std::size_t min, std::size_t max) {
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    if (!value.empty() && value[0] != '-' && value[0] != '+') v = std::stoull(value, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos != value.size() || pos == 0 || v < min || v > max)
    throw UsageError{flag + " expects a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + value + "'"};
  return static_cast<std::size_t>(v);
}

inline double parse_percent(const std::string& flag, const std::string& value) {
  std::size_t pos = 0;
  double v = -1;
  try {
    v = std::stod(value, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos != value.size() || pos == 0 || !(v >= 0 && v < 50))
    throw UsageError{flag + " expects a percentage from 0 up to (not including) 50, got '" + value + "'"};
  return v;
}

inline std::vector<std::string> split_list(const std::string& flag, const std::string& value) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError{flag + " expects a comma-separated list such as conv1_1,conv3_3, got '" + value + "'"};
    items.push_back(item);
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

// Library parsers throw fmviz::Error for a bad value; on the command line that is a usage error.
template <typename Parse>
auto parse_with(const std::string& flag, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const fmviz::Error& e) {
    const std::string what = e.what();
    const std::string prefix = e.field().empty() ? std::string() : e.field() + ": ";
    throw UsageError{flag + ": " + (what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what)};
  }
}

inline std::string vgg16_layer_names() {
  std::string names;
  for (const auto& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16)) names += (names.empty() ? "" : " ") + p.name;
  return names;
}

inline bool is_vgg16_layer(const std::string& name) {
  for (const auto& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16))
    if (p.name == name) return true;
  return false;
}

inline double parse_number(const std::string& flag, const std::string& value, double min, double max) {
  std::size_t pos = 0;
  double v = min - 1;
  try {
    v = std::stod(value, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos != value.size() || pos == 0 || !(v >= min && v <= max))
    throw UsageError{flag + " expects a number from " + fmviz::detail::gallery_number(static_cast<float>(min)) + " to " +
                     fmviz::detail::gallery_number(static_cast<float>(max)) + ", got '" + value + "'"};
  return v;
}

inline std::string vgg16_conv_names() {
  std::string names;
  for (const auto& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16))
    if (p.kind == fmviz::LayerKind::conv2d) names += (names.empty() ? "" : " ") + p.name;
  return names;
}

inline bool is_vgg16_conv(const std::string& name) {
  for (const auto& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16))
    if (p.name == name) return p.kind == fmviz::LayerKind::conv2d;
  return false;
}

inline bool is_class(const std::string& word) {
  try {
    (void)fmviz::parse_imagenet_class(word);
    return true;
  } catch (const fmviz::Error&) {
    return word.find_first_not_of("0123456789") == std::string::npos;  // a number out of range: say so, do not skip it
  }
}

inline bool is_saliency_list(const std::string& word) {
  for (const char* m : {"vanilla", "smoothgrad", "guided"})
    if (word.rfind(m, 0) == 0) return true;
  return false;
}

/// The argument at argv[i], "--flag=value" split into its name and value; value() takes the next argument when
/// the value is not inline (and moves i past it), flag() sets a switch, refusing a value.
class Arg {
 public:
  Arg(int argc, char** argv, int& i) : argc_(argc), argv_(argv), i_(i), name_(argv[i]) {
    if (name_.rfind("--", 0) == 0) {
      const auto eq = name_.find('=');
      if (eq != std::string::npos) {
        value_ = name_.substr(eq + 1);
        name_ = name_.substr(0, eq);
        has_inline_value_ = true;
      }
    }
  }

  const std::string& name() const noexcept { return name_; }
  bool has_inline_value() const noexcept { return has_inline_value_; }
  const std::string& inline_value() const noexcept { return value_; }

  std::string value() {
    if (has_inline_value_) return value_;
    // "-i --out x" is a forgotten value, not an image named "--out" (write --image=-odd-name for that).
    if (i_ + 1 >= argc_ || (argv_[i_ + 1][0] == '-' && argv_[i_ + 1][1] != '\0')) throw UsageError{name_ + " needs a value"};
    return argv_[++i_];
  }

  void flag(bool& target) const {
    if (has_inline_value_) throw UsageError{name_ + " takes no value"};
    target = true;
  }

 private:
  int argc_;
  char** argv_;
  int& i_;
  std::string name_, value_;
  bool has_inline_value_ = false;
};

/// The run's images, in order: each of `items` (an image file, or every image in a folder, sorted by path; with
/// `recursive`, the folders below too), then the images each list file names ('-': standard input).
inline std::vector<std::string> gather_images(const std::vector<std::string>& items, const std::vector<std::string>& lists, bool recursive) {
  std::vector<std::string> images;
  for (const std::string& item : items) {
    std::error_code ec;
    if (!std::filesystem::is_directory(item, ec)) {
      images.push_back(item);
      continue;
    }
    const std::vector<std::string> found = fmviz::list_images(item, recursive);
    if (found.empty())
      throw fmviz::Error(item, "image folder", std::string("holds no images (fmviz reads .jpg .jpeg .png .bmp .gif .psd .tga") +
                                                   (recursive ? ")" : "; --recursive looks in the folders below it too)"));
    images.insert(images.end(), found.begin(), found.end());
  }
  for (const std::string& list : lists) {
    const std::vector<std::string> listed = list == "-" ? fmviz::read_image_list(std::cin, "standard input") : fmviz::read_image_list(list);
    if (listed.empty()) throw fmviz::Error(list == "-" ? "standard input" : list, "image list", "lists no images");
    images.insert(images.end(), listed.begin(), listed.end());
  }
  return images;
}

inline Options parse_args(int argc, char** argv) {
  Options o;
  bool top_given = false, channels_given = false;
  std::optional<std::size_t> class_index, smoothgrad_samples, seed;
  std::optional<double> smoothgrad_noise;
  std::optional<std::string> cam_layer;
  std::vector<fmviz::CamMethod> cam_methods;
  for (int i = 1; i < argc; ++i) {
    Arg a(argc, argv, i);
    const std::string arg = a.name();
    const bool has_inline_value = a.has_inline_value();
    const std::string& value = a.inline_value();
    auto take_value = [&] { return a.value(); };
    auto flag = [&](bool& target) { a.flag(target); };
    if (arg == "-h" || arg == "--help") flag(o.help);
    else if (arg == "--version") flag(o.version);
    else if (arg == "-w" || arg == "--weights") {
      if (!o.weights.empty()) throw UsageError{"--weights given twice"};
      o.weights = take_value();
    } else if (arg == "-i" || arg == "--image") o.images.push_back(take_value());
    else if (arg == "-r" || arg == "--recursive") flag(o.recursive);
    else if (arg == "--images-from") o.image_lists.push_back(take_value());
    else if (arg == "--fail-fast") flag(o.report.stop_at_bad_image);
    else if (arg == "-o" || arg == "--out") o.out = take_value();
    else if (arg == "--npy") flag(o.report.npy);
    else if (arg == "--overlay") flag(o.report.overlay);
    else if (arg == "--filters") flag(o.report.filters);
    else if (arg == "--classify") flag(o.report.classify);
    else if (arg == "--cam") {
      // CLASS is optional: the next word is taken only when it names a class.
      std::string v;
      if (has_inline_value) v = value;
      else if (i + 1 < argc && argv[i + 1][0] != '-' && is_class(argv[i + 1])) v = argv[++i];
      if (!o.report.cam) o.report.cam.emplace();
      if (!v.empty() || has_inline_value) class_index = parse_with(arg, [&] { return fmviz::parse_imagenet_class(v); });
    } else if (arg == "--cam-layer") {
      const std::string v = take_value();
      if (!is_vgg16_conv(v)) throw UsageError{"--cam-layer: '" + v + "' is not a conv layer of VGG16 (" + vgg16_conv_names() + ")"};
      cam_layer = v;
    } else if (arg == "--cam-method") {
      cam_methods.clear();
      for (const std::string& m : split_list(arg, take_value())) cam_methods.push_back(parse_with(arg, [&] { return fmviz::parse_cam_method(m); }));
    } else if (arg == "--saliency") {
      std::string v;
      if (has_inline_value) v = value;
      else if (i + 1 < argc && argv[i + 1][0] != '-' && is_saliency_list(argv[i + 1])) v = argv[++i];
      if (!o.report.saliency) o.report.saliency.emplace();
      if (!v.empty() || has_inline_value) {
        o.report.saliency->methods.clear();
        for (const std::string& m : split_list(arg, v))
          o.report.saliency->methods.push_back(parse_with(arg, [&] { return fmviz::parse_saliency_method(m); }));
      }
    } else if (arg == "--smoothgrad-samples") smoothgrad_samples = parse_count(arg, take_value(), 1, 10000);
    else if (arg == "--smoothgrad-noise") smoothgrad_noise = parse_number(arg, take_value(), 0, 10);
    else if (arg == "--seed") seed = parse_count(arg, take_value(), 0, std::size_t(1) << 62);
    else if (arg == "--layers") o.report.layers = split_list(arg, take_value());
    else if (arg == "--channels") {
      const std::string v = take_value();
      o.report.grid.channels = parse_with(arg, [&] { return fmviz::parse_channels(v); });
      channels_given = true;
    } else if (arg == "--top") {
      o.report.grid.channels = fmviz::ChannelSelection::top(parse_count(arg, take_value(), 1, 4096));
      top_given = true;
    } else if (arg == "--tap") {
      const std::string v = take_value();
      o.report.tap = parse_with(arg, [&] { return fmviz::parse_tap(v); });
    } else if (arg == "--cols") o.report.grid.columns = parse_count(arg, take_value(), 1, 4096);
    else if (arg == "--cell") o.report.grid.min_cell = parse_count(arg, take_value(), 0, 2048);
    else if (arg == "--norm") {
      const std::string v = take_value();
      o.report.grid.scope = parse_with(arg, [&] { return fmviz::parse_norm_scope(v); });
    } else if (arg == "--clip") o.report.grid.clip_percent = parse_percent(arg, take_value());
    else if (arg == "--colormap") {
      const std::string v = take_value();
      o.report.grid.colormap = parse_with(arg, [&] { return fmviz::parse_colormap(v); });
    } else if (arg == "--labels") flag(o.report.grid.labels);
    else if (arg == "--legend") flag(o.report.grid.legend);
    else if (arg == "--last-layer") {
      o.last_layer = take_value();
      if (!is_vgg16_layer(o.last_layer))
        throw UsageError{"--last-layer: '" + o.last_layer + "' is not a layer of VGG16 (" + vgg16_layer_names() + ")"};
    } else if (arg == "--preset") {
      const std::string v = take_value();
      o.report.preset = parse_with(arg, [&] { return fmviz::parse_preset(v); });
    } else if (arg == "--size") o.report.size = parse_count(arg, take_value(), 32, 4096);
    else if (arg == "--max-pixels") o.report.max_pixels = parse_count(arg, take_value(), 1, std::size_t(1) << 40);
    else if (arg == "--threads") o.threads = static_cast<int>(parse_count(arg, take_value(), 1, 1024));
    else if (arg == "--batch") o.report.batch = parse_count(arg, take_value(), 1, 64);
    else if (arg == "--conv-algorithm") {
      const std::string v = take_value();
      o.algorithm = parse_with(arg, [&] { return fmviz::parse_conv_algorithm(v); });
    } else if (arg == "--progress") flag(o.progress);
    else if (arg == "-q" || arg == "--quiet") flag(o.quiet);
    else if (!arg.empty() && arg[0] == '-') throw UsageError{"unknown option '" + arg + "'"};
    else throw UsageError{"unexpected argument '" + arg + "' (images are given with --image)"};
  }
  if (top_given && channels_given) throw UsageError{"--top and --channels both choose channels: give one of them"};
  if (o.help || o.version) return o;
  if (o.weights.empty()) throw UsageError{"--weights FILE is required"};
  if (o.images.empty() && o.image_lists.empty()) throw UsageError{"at least one --image FILE (or --images-from LIST) is required"};
  if (o.recursive && o.images.empty()) throw UsageError{"--recursive goes with --image DIR"};
  if (o.report.classify && !o.last_layer.empty()) throw UsageError{"--classify runs the whole network: it cannot go with --last-layer"};
  if (!o.report.cam && (cam_layer || !cam_methods.empty())) throw UsageError{cam_layer ? "--cam-layer goes with --cam" : "--cam-method goes with --cam"};
  if (!o.report.saliency && (smoothgrad_samples || smoothgrad_noise || seed))
    throw UsageError{smoothgrad_samples ? "--smoothgrad-samples goes with --saliency" : smoothgrad_noise ? "--smoothgrad-noise goes with --saliency" : "--seed goes with --saliency"};
  if ((o.report.cam || o.report.saliency) && !o.last_layer.empty())
    throw UsageError{std::string(o.report.cam ? "--cam" : "--saliency") + " runs the whole network: it cannot go with --last-layer"};
  if (o.report.cam) {
    o.report.cam->class_index = class_index;
    if (cam_layer) o.report.cam->layer = *cam_layer;
    if (!cam_methods.empty()) o.report.cam->methods = cam_methods;
  }
  if (o.report.saliency) {
    o.report.saliency->class_index = class_index;  // --cam CLASS: the saliency maps explain the same class
    if (smoothgrad_samples) o.report.saliency->samples = *smoothgrad_samples;
    if (smoothgrad_noise) o.report.saliency->noise = *smoothgrad_noise;
    if (seed) o.report.saliency->seed = *seed;
  }
  if (o.out.empty()) throw UsageError{"--out needs a folder name"};
  return o;
}

}  // namespace fmviz_cli
