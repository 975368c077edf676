// `fmviz atlas`: for every channel of chosen conv layers, the images of a dataset that excite it most, as a table
// (and a site); sharded runs and their merge. The work is the library's (write_atlas, merge_atlas_tables,
// write_atlas_site); this file parses the command line and reports progress.
#pragma once

#include <fmviz/vgg.hpp>

#if __has_include(<fmviz/atlas/site.hpp>)
#include <fmviz/atlas/site.hpp>
#define FMVIZ_CLI_ATLAS_SITE 1
#else
#define FMVIZ_CLI_ATLAS_SITE 0
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "options.hpp"

namespace fmviz_cli {

inline constexpr const char* atlas_usage_text = R"(usage: fmviz atlas --weights FILE (--images DIR [-r] | --images-from LIST) --out DIR [options]
       fmviz atlas merge SHARD_DIR... --out DIR [--weights FILE] [--no-site]

Ranks the images of a dataset for every channel of the chosen conv layers: for each channel the top
K images by the channel's maximum over the image and the top K by its mean, with where the maximum
is. Memory holds K hits per channel, whatever the number of images. Writes a table into DIR
(atlas.json and LAYER.bin per layer) and a site to browse it (index.html and a page per layer).

images (image j of the whole list is the j-th: folders sorted by path, then lists in their order):
  -i, --images DIR        every image in the folder DIR, sorted by path (or one image file);
                          repeat for several
  -r, --recursive         also the images in the folders below
      --images-from LIST  the images listed in the file LIST, one path per line ('-': standard input)

what is ranked:
  -w, --weights FILE      VGG16 weights, as for fmviz (the conv layers up to the last chosen are enough)
      --layers LIST       conv layers, e.g. conv3_1,conv5_3 (default: all 13)
      --top K             images kept per channel, by max and by mean (default 9, at most 1000)
      --tap relu|conv     the conv output after its ReLU (default) or before it
      --size N            resize images to N x N (default 224)
      --preset torchvision|caffe
                          input normalisation (caffe for the original Oxford weights)

a run in parts (on a cluster: one part per task, then merge):
      --shard I/N         run only part I of N (0 <= I < N): image j belongs to part j mod N. A part
                          writes only its table; the site is made when the parts are merged
  merge SHARD_DIR...      merge the tables of all N parts of one run into DIR: the same table, byte
                          for byte, as one run over every image, and the site. Its weights (for the
                          site) are the run's --weights unless -w names them again

output:
  -o, --out DIR           the folder for the table (and the site); required. A folder that holds
                          the finished table of the same run already is kept as it is (nothing is run
                          again); one that holds another run's table is an error
      --no-site           write only the table

how:
      --batch N           images per forward (default: up to 8, as many as fit in 1 GiB)
      --threads N         threads to use (default and most: all cores)
      --max-pixels N      refuse images of more than N pixels before decoding them (default 100000000)
      --fail-fast         stop at the first image that cannot be read (nothing is written); by
                          default such an image is reported, left out, and the exit status is 1

messages:
      --progress          report progress on stderr even when it is not a terminal
  -q, --quiet             no progress or notes on stderr
  -h, --help              show this help and exit

Exit status: 0 on success, 1 when an input or output fails (or an image was left out), 2 on a bad
command line. The table's files are written under temporary names and renamed, atlas.json last: a
run that stops early leaves no atlas.json, and merge refuses a folder without one.
)";

struct AtlasCliOptions {
  bool merge = false;
  std::string weights, out;
  std::vector<std::string> image_dirs, image_lists, shard_dirs;
  bool recursive = false, shard_given = false, no_site = false;
  fmviz::AtlasOptions atlas;
  int threads = 0;
  bool progress = false, quiet = false, help = false;
};

/// "I/N" with 0 <= I < N <= 100000.
inline fmviz::AtlasShard parse_shard(const std::string& value) {
  const auto slash = value.find('/');
  const auto bad = [&] { return UsageError{"--shard expects I/N with 0 <= I < N, such as 0/4, got '" + value + "'"}; };
  if (slash == std::string::npos) throw bad();
  fmviz::AtlasShard s;
  try {
    s.index = parse_count("--shard", value.substr(0, slash), 0, 99999);
    s.count = parse_count("--shard", value.substr(slash + 1), 1, 100000);
  } catch (const UsageError&) {
    throw bad();
  }
  if (s.index >= s.count) throw bad();
  return s;
}

/// argv[1] is "atlas" (and argv[2] "merge" for a merge).
inline AtlasCliOptions parse_atlas_args(int argc, char** argv) {
  AtlasCliOptions o;
  int i = 2;
  if (argc > 2 && std::string(argv[2]) == "merge") {
    o.merge = true;
    i = 3;
  }
  std::string run_flag;  // the first flag that only a run takes, for a merge's error
  for (; i < argc; ++i) {
    Arg a(argc, argv, i);
    const std::string arg = a.name();
    auto take_value = [&] { return a.value(); };
    auto flag = [&](bool& target) { a.flag(target); };
    auto run_only = [&] {
      if (run_flag.empty()) run_flag = arg;
    };
    if (arg == "-h" || arg == "--help") flag(o.help);
    else if (arg == "-w" || arg == "--weights") {
      if (!o.weights.empty()) throw UsageError{"--weights given twice"};
      o.weights = take_value();
      if (o.weights.empty()) throw UsageError{"--weights needs a file name"};
    } else if (arg == "-o" || arg == "--out") {
      if (!o.out.empty()) throw UsageError{"--out given twice"};
      o.out = take_value();
      if (o.out.empty()) throw UsageError{"--out needs a folder name"};
    } else if (arg == "--no-site") flag(o.no_site);
    else if (arg == "--threads") o.threads = static_cast<int>(parse_count(arg, take_value(), 1, 1024));
    else if (arg == "--progress") flag(o.progress);
    else if (arg == "-q" || arg == "--quiet") flag(o.quiet);
    else if (arg == "-i" || arg == "--images") {
      run_only();
      o.image_dirs.push_back(take_value());
    } else if (arg == "-r" || arg == "--recursive") {
      run_only();
      flag(o.recursive);
    } else if (arg == "--images-from") {
      run_only();
      o.image_lists.push_back(take_value());
    } else if (arg == "--shard") {
      run_only();
      if (o.shard_given) throw UsageError{"--shard given twice"};
      o.atlas.shard = parse_shard(take_value());
      o.shard_given = true;
    } else if (arg == "--layers") {
      run_only();
      o.atlas.layers.clear();
      for (const std::string& name : split_list(arg, take_value())) {
        if (!is_vgg16_conv(name)) throw UsageError{"--layers: '" + name + "' is not a conv layer of VGG16 (" + vgg16_conv_names() + ")"};
        o.atlas.layers.push_back(name);
      }
    } else if (arg == "--top") {
      run_only();
      o.atlas.top_k = parse_count(arg, take_value(), 1, fmviz::AtlasOptions::max_top_k);
    } else if (arg == "--tap") {
      run_only();
      const std::string v = take_value();
      o.atlas.tap = parse_with(arg, [&] { return fmviz::parse_tap(v); });
    } else if (arg == "--size") {
      run_only();
      o.atlas.size = parse_count(arg, take_value(), 16, 4096);
    } else if (arg == "--preset") {
      run_only();
      const std::string v = take_value();
      o.atlas.preset = parse_with(arg, [&] { return fmviz::parse_preset(v); });
    } else if (arg == "--batch") {
      run_only();
      o.atlas.batch = parse_count(arg, take_value(), 1, 64);
    } else if (arg == "--max-pixels") {
      run_only();
      o.atlas.max_pixels = parse_count(arg, take_value(), 1, std::size_t(1) << 40);
    } else if (arg == "--fail-fast") {
      run_only();
      flag(o.atlas.stop_at_bad_image);
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") throw UsageError{"unknown option '" + arg + "' for fmviz atlas" + (o.merge ? " merge" : "")};
    else if (o.merge) o.shard_dirs.push_back(arg);
    else if (arg == "merge") throw UsageError{"merge comes first: fmviz atlas merge SHARD_DIR... -o DIR"};
    else throw UsageError{"unexpected argument '" + arg + "' (image folders are given with --images)"};
  }
  if (o.help) return o;
  if (o.merge) {
    if (!run_flag.empty()) throw UsageError{run_flag + " is for a run, not for merge (the shards' tables hold their settings)"};
    if (o.shard_dirs.empty()) throw UsageError{"merge needs the folders of the shards' tables"};
  } else {
    if (o.weights.empty()) throw UsageError{"--weights FILE is required"};
    if (o.image_dirs.empty() && o.image_lists.empty()) throw UsageError{"--images DIR (or --images-from LIST) is required"};
    if (o.recursive && o.image_dirs.empty()) throw UsageError{"--recursive goes with --images DIR"};
  }
  if (o.out.empty()) throw UsageError{"--out DIR is required"};
  return o;
}

/// Progress on stderr: a line redrawn on a terminal, else (with --progress) a line every tenth of the way.
class AtlasProgress : public fmviz::AtlasObserver {
 public:
  using Clock = std::chrono::steady_clock;
  AtlasProgress(bool show, bool terminal, const std::string& what) : show_(show), terminal_(terminal), what_(what), start_(Clock::now()) {}

  void images_done(std::size_t done, std::size_t total) override {
    if (!show_) return;
    const std::size_t tenth = total ? done * 10 / total : 10;
    if (!terminal_ && tenth == last_tenth_ && done != total) return;
    last_tenth_ = tenth;
    const double t = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = t > 0 ? static_cast<double>(done) / t : 0;
    char line[200];
    std::snprintf(line, sizeof line, "%s %zu/%zu images, %.1f images/s, %.1fs", what_.c_str(), done, total, rate, t);
    std::string text = line;
    if (skipped_) text += ", " + std::to_string(skipped_) + " left out";
    if (done > 0 && done < total && rate > 0) {
      std::snprintf(line, sizeof line, ", about %.0fs left", static_cast<double>(total - done) / rate);
      text += line;
    }
    std::cerr << (terminal_ ? "\r\033[K" : "") << text << (terminal_ && done != total ? "" : "\n") << std::flush;
    shown_ = terminal_ && done != total;
  }

  void image_skipped(std::uint64_t index, const fmviz::Error& error) override {
    ++skipped_;
    // Even with --quiet: it changes the exit status.
    if (shown_) std::cerr << "\r\033[K";
    std::cerr << "fmviz atlas: error: " << error.what() << " (image " << index << ", left out)\n";
    shown_ = false;
  }

  /// The site's progress: its own images (the distinct top images, read again), timed from the site's start.
  void site_progress(std::size_t done, std::size_t total) {
    if (what_ != "site:") {
      what_ = "site:";
      skipped_ = last_tenth_ = 0;
      start_ = Clock::now();
    }
    images_done(done, total);
  }

 private:
  bool show_, terminal_;
  std::string what_;
  Clock::time_point start_;
  std::size_t last_tenth_ = 0, skipped_ = 0;
  bool shown_ = false;
};

// A library error about one of the request's options is a bad command line: it names the flag.
[[noreturn]] inline void rethrow_atlas_request(const fmviz::Error& e) {
  static const std::pair<const char*, const char*> flags[] = {
      {"layers", "--layers"}, {"top_k", "--top"}, {"size", "--size"}, {"shard", "--shard"}, {"batch", "--batch"}, {"tap", "--tap"}};
  for (const auto& [field, flag] : flags)
    if (e.field() == field && e.path().empty()) {
      const std::string what = e.what(), prefix = e.field() + ": ";
      throw UsageError{std::string(flag) + ": " + (what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what)};
    }
  throw e;
}

/// The conv layers up to `last` in VGG16's order: the network to load for an atlas of these layers.
inline std::string last_vgg16_conv(const std::vector<std::string>& layers) {
  std::string last = "conv5_3";
  if (layers.empty()) return last;
  for (const auto& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16))
    if (std::find(layers.begin(), layers.end(), p.name) != layers.end()) last = p.name;
  return last;
}

/// Writes the site of `atlas` into `out` (when this build has the site writer); true when it did.
inline bool write_atlas_site_for(const fmviz::Network<float>& net, const fmviz::Atlas& atlas, const std::string& out,
                                 AtlasProgress& progress, bool quiet) {
#if FMVIZ_CLI_ATLAS_SITE
  (void)quiet;
  fmviz::AtlasSiteOptions site;
  site.max_pixels = fmviz::ImageOptions{}.max_pixels;
  site.on_progress = [&](std::size_t done, std::size_t total) { progress.site_progress(done, total); };
  site.on_skipped = [&](std::uint64_t image, const fmviz::Error& e) {
    if (!quiet) std::cerr << "fmviz atlas: note: " << e.what() << " (image " << image << ": shown as a placeholder)\n";
  };
  fmviz::write_atlas_site(net, atlas, out, site);
  return true;
#else
  (void)net, (void)atlas, (void)progress;
  if (!quiet) std::cerr << "fmviz atlas: note: this build has no site writer (fmviz/atlas/site.hpp): wrote the table only\n";
  return false;
#endif
}

inline int run_atlas_merge(const AtlasCliOptions& o, bool terminal) {
  namespace fs = std::filesystem;
  const bool show = !o.quiet && (o.progress || terminal);
  for (const std::string& dir : o.shard_dirs) {
    std::error_code ec;
    if (fs::exists(o.out, ec) && fs::equivalent(dir, o.out, ec))
      throw UsageError{"--out " + o.out + " is one of the shards' folders: merge into another folder"};
  }
  const fmviz::Atlas atlas = fmviz::merge_atlas_tables(o.shard_dirs);
  if (fmviz::has_atlas_table(o.out)) {
    const fmviz::Atlas there = fmviz::read_atlas_table(o.out);
    const std::string differs = fmviz::atlas_difference(there, atlas);
    if (!differs.empty())
      throw fmviz::Error((fs::path(o.out) / fmviz::atlas_manifest_file).string(), "table",
                         "holds the finished atlas of another run (" + differs + "): remove it or write elsewhere");
  }
  // The site needs the network: load it before writing anything, so a bad weight file leaves nothing behind.
  std::optional<fmviz::Network<float>> net;
  if (!o.no_site) {
    const std::string weights = o.weights.empty() ? atlas.settings.weights_label : o.weights;
    fmviz::LoadOptions load;
    load.last_layer = atlas.layers.back().name;
    load.winograd_weights = fmviz::WinogradWeights::per_forward;
    try {
      net.emplace(fmviz::load_vgg16<float>(weights, load));
    } catch (const fmviz::Error& e) {
      if (!o.weights.empty()) throw;
      throw fmviz::Error(e.path(), e.field(), std::string(e.what()) + " (the run's weights, for the site: give --weights FILE, or --no-site)");
    }
  }
  fmviz::write_atlas_table(atlas, o.out);
  const std::size_t images = atlas.images.size();
  if (!o.quiet)
    std::cerr << "merged " << o.shard_dirs.size() << (o.shard_dirs.size() == 1 ? " table" : " tables") << " of " << images
              << " images into " << o.out << "\n";
  AtlasProgress progress(show, terminal, "merge:");
  if (net && write_atlas_site_for(*net, atlas, o.out, progress, o.quiet) && !o.quiet)
    std::cerr << "open " << (fs::path(o.out) / "index.html").string() << " to see it\n";
  // The merge itself read everything it needed: images the shards left out are a note, not a failure.
  if (!atlas.skipped.empty() && !o.quiet)
    std::cerr << "fmviz atlas: note: " << atlas.skipped.size() << " of " << images << " images could not be read when the shards ran\n";
  return 0;
}

inline int run_atlas(const AtlasCliOptions& o, bool terminal) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (o.threads > 0) {
    const int threads = std::min(o.threads, fmviz::core_count());
    if (threads < o.threads && !o.quiet)
      std::cerr << "fmviz atlas: note: --threads " << o.threads << " is more than the " << threads << " cores here; using " << threads << "\n";
    fmviz::set_thread_count(threads);
  }
  if (o.merge) return run_atlas_merge(o, terminal);
  const bool show = !o.quiet && (o.progress || terminal);
  const std::vector<std::string> images = gather_images(o.image_dirs, o.image_lists, o.recursive);

  fmviz::LoadOptions load;
  load.last_layer = last_vgg16_conv(o.atlas.layers);  // nothing after the last chosen layer is needed
  load.winograd_weights = o.atlas.batch == 1 ? fmviz::WinogradWeights::at_build : fmviz::WinogradWeights::per_forward;
  const fmviz::Network<float> net = fmviz::load_vgg16<float>(o.weights, load);
  if (!o.quiet)
    for (const std::string& note : net.notes()) std::cerr << "fmviz atlas: note: " << note << "\n";

  fmviz::AtlasOptions options = o.atlas;
  options.weights_label = o.weights;
  fmviz::Atlas plan;
  try {
    plan = fmviz::plan_atlas(net, images, options);
  } catch (const fmviz::Error& e) {
    rethrow_atlas_request(e);
  }
  const std::size_t mine = fmviz::shard_images(images.size(), options.shard).size();
  if (show) {
    std::cerr << "loaded " << o.weights << "; " << images.size() << (images.size() == 1 ? " image" : " images");
    if (options.shard.count > 1) std::cerr << ", shard " << options.shard.index << "/" << options.shard.count << " runs " << mine << " of them";
    std::cerr << ", up to " << fmviz::atlas_batch_size(net, plan, options, mine) << " per forward\n";
  }

  AtlasProgress progress(show, terminal, "atlas:");
  const fmviz::AtlasTableRun run = fmviz::write_atlas(net, images, options, o.out, &progress);
  const fmviz::Atlas& atlas = run.atlas;
  if (run.reused && !o.quiet)
    std::cerr << "fmviz atlas: note: " << o.out << " holds this run's finished table already: nothing to run again\n";
  else if (!o.quiet) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1fs", std::chrono::duration<double>(Clock::now() - start).count());
    std::cerr << "wrote the atlas of " << atlas.layers.size() << (atlas.layers.size() == 1 ? " layer" : " layers") << " (top "
              << atlas.settings.top_k << " of " << mine << " images) to " << o.out << " (" << seconds << ")\n";
  }
  if (options.shard.count == 1 && !o.no_site && write_atlas_site_for(net, atlas, o.out, progress, o.quiet) && !o.quiet)
    std::cerr << "open " << (std::filesystem::path(o.out) / "index.html").string() << " to see it\n";
  if (atlas.skipped.empty()) return 0;
  // A finished table that left images out fails again on a rerun: the exit status says what the table holds.
  if (run.reused) std::cerr << "fmviz atlas: error: " << atlas.skipped.size() << " of " << mine << " images could not be read when it ran (see its atlas.json)\n";
  else if (!o.quiet) std::cerr << "fmviz atlas: " << atlas.skipped.size() << " of " << mine << " images could not be read and were left out\n";
  return 1;
}

}  // namespace fmviz_cli
