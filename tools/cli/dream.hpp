// `fmviz dream`: images optimised to excite chosen channels of a conv layer (feature visualisation), written
// with a mosaic and a gallery page. The work is the library's (visualize_channels, write_channel_visualizations);
// this file parses the command line and reports progress.
#pragma once

#include <fmviz/vgg.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"

namespace fmviz_cli {

inline constexpr const char* dream_usage_text = R"(usage: fmviz dream --weights FILE --layer NAME [--channels SPEC] [--out DIR] [options]

Makes, for each chosen channel of a conv layer, an image that excites it: feature visualisation by
optimisation (Olah et al., Distill 2017), with Lucid's recipe (a Fourier-space image in decorrelated
colours, random pad, jitter, scale and rotation at every step, Adam). Writes LAYER_cN.png per
channel, LAYER.png (all of them, labelled), history.csv (the objective at every step) and index.html.

required:
  -w, --weights FILE      VGG16 weights, as for fmviz (the conv layers up to --layer are enough)
  -l, --layer NAME        the conv layer, e.g. conv3_1

what is optimised:
      --channels SPEC     8 (the first 8, default), all, or a list such as 0-7,42
      --neuron            the channel at the centre position instead of its mean over the image
      --deepdream         one image for the whole layer (the mean of its squared activations)
      --tap conv|relu     the conv output before its ReLU (default: its gradient is never zero) or after

how:
      --size N            the image's side in pixels (default 128)
      --steps N           optimisation steps (default 512)
      --learning-rate X   Adam's step size (default 0.05)
      --seed N            start and transforms (default 0): the same seed, the same images
      --no-transforms     optimise the plain image (no random pad, jitter, scale or rotation)
      --preset torchvision|caffe
                          the network's input normalisation (caffe for the original Oxford weights)
      --threads N         threads to use (default and most: all cores)

output:
  -o, --out DIR           output folder (default fmviz-dream)
      --cols N            pictures per row of LAYER.png (default 8)
      --progress          report progress on stderr even when it is not a terminal
  -q, --quiet             no progress on stderr
  -h, --help              show this help and exit

Exit status: 0 on success, 1 when an input or output fails, 2 on a bad command line.
)";

struct DreamOptions {
  std::string weights, layer, out = "fmviz-dream";
  fmviz::ChannelSelection channels = fmviz::ChannelSelection::first(8);
  bool deepdream = false;
  fmviz::FeatureVisOptions vis;
  std::size_t columns = 8;
  int threads = 0;
  bool progress = false, quiet = false, help = false;
};

/// argv[1] is "dream".
inline DreamOptions parse_dream_args(int argc, char** argv) {
  DreamOptions o;
  bool channels_given = false;
  for (int i = 2; i < argc; ++i) {
    Arg a(argc, argv, i);
    const std::string arg = a.name();
    auto take_value = [&] { return a.value(); };
    auto flag = [&](bool& target) { a.flag(target); };
    if (arg == "-h" || arg == "--help") flag(o.help);
    else if (arg == "-w" || arg == "--weights") {
      if (!o.weights.empty()) throw UsageError{"--weights given twice"};
      o.weights = take_value();
    } else if (arg == "-l" || arg == "--layer") {
      o.layer = take_value();
      if (!is_vgg16_conv(o.layer)) throw UsageError{"--layer: '" + o.layer + "' is not a conv layer of VGG16 (" + vgg16_conv_names() + ")"};
    } else if (arg == "--channels") {
      const std::string v = take_value();
      o.channels = parse_with(arg, [&] { return fmviz::parse_channels(v); });
      if (o.channels.kind == fmviz::ChannelSelection::Kind::top)
        throw UsageError{"--channels: top K needs activations to rank, and dream has none: give N, all or a list"};
      channels_given = true;
    } else if (arg == "--neuron") {
      bool on = false;
      flag(on);
      o.vis.objective = fmviz::FeatureObjective::neuron;
    } else if (arg == "--deepdream") flag(o.deepdream);
    else if (arg == "--tap") {
      const std::string v = take_value();
      o.vis.tap = parse_with(arg, [&] { return fmviz::parse_tap(v); });
    } else if (arg == "--size") o.vis.size = parse_count(arg, take_value(), 8, 1024);
    else if (arg == "--steps") o.vis.steps = parse_count(arg, take_value(), 1, 100000);
    else if (arg == "--learning-rate") o.vis.learning_rate = parse_number(arg, take_value(), 1e-6, 10);
    else if (arg == "--seed") o.vis.seed = parse_count(arg, take_value(), 0, std::size_t(1) << 62);
    else if (arg == "--no-transforms") {
      bool off = false;
      flag(off);
      o.vis.transforms = false;
    } else if (arg == "--preset") {
      const std::string v = take_value();
      o.vis.preset = parse_with(arg, [&] { return fmviz::parse_preset(v); });
    } else if (arg == "--threads") o.threads = static_cast<int>(parse_count(arg, take_value(), 1, 1024));
    else if (arg == "-o" || arg == "--out") o.out = take_value();
    else if (arg == "--cols") o.columns = parse_count(arg, take_value(), 1, 4096);
    else if (arg == "--progress") flag(o.progress);
    else if (arg == "-q" || arg == "--quiet") flag(o.quiet);
    else if (!arg.empty() && arg[0] == '-') throw UsageError{"unknown option '" + arg + "' for fmviz dream"};
    else throw UsageError{"unexpected argument '" + arg + "'"};
  }
  if (o.help) return o;
  if (o.weights.empty()) throw UsageError{"--weights FILE is required"};
  if (o.layer.empty()) throw UsageError{"--layer NAME is required (a conv layer, e.g. conv3_1)"};
  if (o.deepdream && channels_given) throw UsageError{"--deepdream makes one image for the whole layer: it cannot go with --channels"};
  if (o.deepdream && o.vis.objective == fmviz::FeatureObjective::neuron) throw UsageError{"--deepdream and --neuron choose different objectives"};
  if (o.out.empty()) throw UsageError{"--out needs a folder name"};
  return o;
}

/// The channels a selection picks from a layer of `count` channels.
inline std::vector<int> chosen_channels(const fmviz::ChannelSelection& sel, std::size_t count) {
  std::vector<int> channels;
  if (sel.kind == fmviz::ChannelSelection::Kind::list) {
    fmviz::detail::check_listed_channels(sel, count);
    for (std::size_t c : sel.channels) channels.push_back(static_cast<int>(c));
    return channels;
  }
  const std::size_t n = sel.kind == fmviz::ChannelSelection::Kind::all ? count : std::min(sel.count, count);
  for (std::size_t c = 0; c < n; ++c) channels.push_back(static_cast<int>(c));
  return channels;
}

inline int run_dream(const DreamOptions& o, bool stderr_is_terminal) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (o.threads > 0) fmviz::set_thread_count(std::min(o.threads, fmviz::core_count()));
  fmviz::LoadOptions load;
  load.last_layer = o.layer;  // nothing after the layer is needed
  const fmviz::Network<float> net = fmviz::load_vgg16<float>(o.weights, load);
  const bool show = !o.quiet && (o.progress || stderr_is_terminal);
  std::size_t images = 1, last_shown = 0;
  const fmviz::FeatureVisObserver observer = [&](const fmviz::FeatureVisStep& s) {
    if (!show) return;
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    // On a terminal: one line redrawn; otherwise a line every tenth of the way.
    if (!stderr_is_terminal && s.step * 10 / s.steps == last_shown && s.step != s.steps) return;
    last_shown = s.step * 10 / s.steps;
    double mean = 0;
    for (double v : s.objectives) mean += v / static_cast<double>(s.objectives.size());
    char line[160];
    std::snprintf(line, sizeof line, "step %zu/%zu, %zu %s, mean objective %.4g, %.1fs, about %.0fs left", s.step, s.steps, images,
                  images == 1 ? "image" : "images", mean, t, t / static_cast<double>(s.step) * static_cast<double>(s.steps - s.step));
    std::cerr << (stderr_is_terminal ? "\r\033[K" : "") << line << (stderr_is_terminal && s.step != s.steps ? "" : "\n") << std::flush;
  };
  std::vector<fmviz::ChannelVisualization> results;
  try {
    if (o.deepdream) {
      results.push_back(fmviz::visualize_layer(net, o.layer, o.vis, observer));
    } else {
      const std::vector<int> channels = chosen_channels(o.channels, net.conv(o.layer).out_channels());
      if (channels.size() > 4096) throw UsageError{"--channels: " + std::to_string(channels.size()) + " images at once is too many (at most 4096)"};
      images = channels.size();
      results = fmviz::visualize_channels(net, o.layer, channels, o.vis, observer);
    }
  } catch (const fmviz::Error& e) {
    // A request the library refuses before any work (a size too small for the layer, say) is a bad command line.
    static const char* const fields[] = {"size", "channels", "tap", "steps", "learning_rate", "layer"};
    for (const char* field : fields)
      if (e.field() == field && e.path().empty()) {
        const std::string what = e.what(), prefix = e.field() + ": ", flag = e.field() == "learning_rate" ? "learning-rate" : e.field();
        throw UsageError{"--" + flag + ": " + (what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what)};
      }
    throw;
  }
  fmviz::ChannelVisualizationPage page;
  page.weights_label = o.weights;
  page.columns = o.columns;
  fmviz::write_channel_visualizations(results, o.vis, o.out, page);
  if (!o.quiet) std::cerr << "wrote " << images << (images == 1 ? " image" : " images") << " to " << o.out << "; open " << o.out << "/index.html to see them\n";
  return 0;
}

}  // namespace fmviz_cli
