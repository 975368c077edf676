// fmviz: run images through VGG16 and write every conv layer's feature maps as pictures, arrays and a gallery.
// The job itself is the library's (fmviz::Report, fmviz::write_report); this file parses the command line,
// finds the images and reports progress.
#include <fmviz/vgg.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "atlas.hpp"
#include "dream.hpp"
#include "options.hpp"

using fmviz_cli::Options;
using fmviz_cli::UsageError;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

std::string elapsed(Clock::time_point start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", seconds_since(start));
  return buf;
}

bool stderr_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
  return ::isatty(2) != 0;
#else
  return false;
#endif
}

// Progress on stderr. One image (or --progress without a terminal): a line per conv layer. Several images on a
// terminal: one line, redrawn, with the images done and the time left. Skipped images always get a line.
class Progress : public fmviz::ReportObserver {
 public:
  Progress(const Options& o, const std::vector<std::string>& images, Clock::time_point start)
      : images_(images), start_(start), quiet_(o.quiet) {
    const bool wanted = !o.quiet && (o.progress || stderr_is_terminal());
    bar_ = wanted && images.size() > 1 && stderr_is_terminal();
    lines_ = wanted && !bar_;
  }

  void batch_started(std::size_t first, std::size_t count, std::size_t total) override {
    which_.clear();
    if (total > 1) which_ = count == 1 ? "  " + images_[first] : "  images " + std::to_string(first + 1) + "-" + std::to_string(first + count) + " of " + std::to_string(total);
    draw_bar();
  }

  void layer_done(const std::string& layer, const fmviz::Shape& shape, std::size_t number, std::size_t count) override {
    if (lines_) std::cerr << "[" << number << "/" << count << "] " << layer << " " << fmviz::shape_to_string(shape) << " (" << elapsed(start_) << ")" << which_ << "\n";
  }

  void image_written(std::size_t, const std::string& folder, const fmviz::ImageReport& report) override {
    ++done_;
    if (!report.decision.empty()) {  // the decision is the command's result: on stdout, even with --quiet
      clear_bar();
      std::cout << report.input << "\n";
      for (std::size_t j = 0; j < report.decision.size(); ++j) {
        const fmviz::ClassScore& c = report.decision[j];
        char line[64];
        std::snprintf(line, sizeof line, "  %zu  %6.2f%%  ", j + 1, 100 * c.probability);
        std::cout << line << fmviz::imagenet_class_name(c.index) << " (" << c.index << ")\n";
      }
      std::cout << std::flush;
    }
    if (bar_) draw_bar();
    else if (!quiet_) std::cerr << "wrote " << report.layers_drawn << " layers to " << folder << " (" << elapsed(start_) << ")\n";
  }

  void image_skipped(std::size_t, const fmviz::Error& error) override {
    ++done_;
    ++skipped_;
    clear_bar();
    // Even with --quiet: it changes the exit status.
    std::cerr << "fmviz: error: " << error.what() << (images_.size() > 1 ? " (skipped)" : "") << "\n";
    draw_bar();
  }

  void finish() {
    if (!bar_ || !shown_) return;
    draw_bar();
    std::cerr << "\n";
    shown_ = false;
  }

 private:
  void clear_bar() {
    if (bar_ && shown_) std::cerr << "\r\033[K";
  }
  void draw_bar() {
    if (!bar_) return;
    const std::size_t total = images_.size();
    const double t = seconds_since(start_);
    constexpr std::size_t width = 24;
    const std::size_t filled = total ? done_ * width / total : width;
    std::string line = "\r\033[K[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + std::to_string(done_) + "/" +
                       std::to_string(total) + " images";
    if (skipped_) line += ", " + std::to_string(skipped_) + " skipped";
    line += ", " + format_seconds(t);
    if (done_ > 0 && done_ < total) line += ", about " + format_seconds(t / static_cast<double>(done_) * static_cast<double>(total - done_)) + " left";
    std::cerr << line << std::flush;
    shown_ = true;
  }

  const std::vector<std::string>& images_;
  Clock::time_point start_;
  bool quiet_, bar_ = false, lines_ = false, shown_ = false;
  std::size_t done_ = 0, skipped_ = 0;
  std::string which_;
};

// A library error about one of the report's options is a bad command line: it names the flag.
[[noreturn]] void rethrow_as_usage(const fmviz::Error& e) {
  static const std::pair<const char*, const char*> flags[] = {{"layers", "--layers"}, {"size", "--size"}, {"filters", "--filters"}};
  for (const auto& [field, flag] : flags)
    if (e.field() == field && e.path().empty()) {
      const std::string what = e.what(), prefix = e.field() + ": ";
      throw UsageError{std::string(flag) + ": " + (what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what)};
    }
  throw e;
}

int run(const Options& o) {
  const auto start = Clock::now();
  const bool show_progress = !o.quiet && (o.progress || stderr_is_terminal());
  if (o.threads > 0) {
    // More threads than cores only make them wait for each other (40x slower at 1024 on 2 cores).
    const int threads = std::min(o.threads, fmviz::core_count());
    if (threads < o.threads && !o.quiet)
      std::cerr << "fmviz: note: --threads " << o.threads << " is more than the " << threads << " cores here; using " << threads << "\n";
    fmviz::set_thread_count(threads);
  }
  const std::vector<std::string> images = fmviz_cli::gather_images(o.images, o.image_lists, o.recursive);

  fmviz::LoadOptions load;
  // The classifier is never drawn: unless asked for a decision or an explanation of one, don't load it.
  const bool whole = o.report.classify || o.report.cam || o.report.saliency;
  load.last_layer = whole ? std::string() : o.last_layer.empty() ? "conv5_3" : o.last_layer;
  load.algorithm = o.algorithm;
  // Images run in batches, so a forward usually serves several images: transforming the Winograd weights during
  // each forward then costs little and needs a quarter of the memory of transforming them all at load. Only one
  // image per forward for several images (--batch 1) transforms them once, at load.
  load.winograd_weights = o.report.batch == 1 && images.size() > 1 ? fmviz::WinogradWeights::at_build : fmviz::WinogradWeights::per_forward;
  const fmviz::Network<float> net = fmviz::load_vgg16<float>(o.weights, load);
  if (!o.quiet)
    for (const std::string& note : net.notes()) std::cerr << "fmviz: note: " << note << "\n";

  fmviz::ReportOptions options = o.report;
  options.stop_after = o.last_layer;
  options.weights_label = o.weights;
  std::optional<fmviz::Report> report;
  try {
    report.emplace(net, options);
  } catch (const fmviz::Error& e) {
    rethrow_as_usage(e);
  }
  if (show_progress) {
    const std::size_t batch = report->batch_size(images.size());
    const std::size_t forwards = (images.size() + batch - 1) / batch;
    std::cerr << "loaded " << o.weights << "; " << images.size() << (images.size() == 1 ? " image" : " images") << " in " << forwards
              << (forwards == 1 ? " forward" : " forwards") << " of up to " << batch << " (" << elapsed(start) << ")\n";
  }

  Progress progress(o, images, start);
  const fmviz::ReportSummary summary = fmviz::write_report(*report, images, o.out, &progress);
  progress.finish();
  if (!o.quiet && !summary.index_page.empty()) std::cerr << "open " << summary.index_page << " to see them\n";
  if (summary.skipped.empty()) return 0;
  if (!o.quiet && summary.images_written > 0)
    std::cerr << "fmviz: " << summary.skipped.size() << " of " << images.size() << " images could not be read (listed above)\n";
  return 1;
}


// Runs `job` and turns what it throws into the exit status: 2 and a pointer to `help` for a bad command line,
// 1 for anything else, each with one line on stderr starting with `program`.
template <typename Job>
int exit_status(const std::string& program, Job&& job) {
  try {
    return job();
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.message << " (see " << program << " --help)\n";
    return 2;
  } catch (const fmviz::Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
  }
  return 1;
}

// `fmviz dream ...`: feature visualisation (dream.hpp).
int dream_main(int argc, char** argv) {
  return exit_status("fmviz dream", [&] {
    const fmviz_cli::DreamOptions options = fmviz_cli::parse_dream_args(argc, argv);
    if (options.help) {
      std::cout << fmviz_cli::dream_usage_text;
      return 0;
    }
    return fmviz_cli::run_dream(options, stderr_is_terminal());
  });
}

// `fmviz atlas ...` and `fmviz atlas merge ...`: a channel atlas over a dataset (atlas.hpp).
int atlas_main(int argc, char** argv) {
  return exit_status("fmviz atlas", [&] {
    const fmviz_cli::AtlasCliOptions options = fmviz_cli::parse_atlas_args(argc, argv);
    if (options.help) {
      std::cout << fmviz_cli::atlas_usage_text;
      return 0;
    }
    return fmviz_cli::run_atlas(options, stderr_is_terminal());
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "dream") return dream_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "atlas") return atlas_main(argc, argv);
  return exit_status("fmviz", [&] {
    const Options options = fmviz_cli::parse_args(argc, argv);
    if (options.help) {
      std::cout << fmviz_cli::usage_text;
      return 0;
    }
    if (options.version) {
      std::cout << "fmviz " << FMVIZ_VERSION_STRING << " (images: " << fmviz::image_decoders() << ")\n";
      return 0;
    }
    return run(options);
  });
}
