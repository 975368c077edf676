// Channel visualisations written to a folder: each channel's optimised image, a mosaic of them all, the
// objective at every step (history.csv) and a gallery page saying what was optimised and how.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "../detail/atomic_file.hpp"
#include "../error.hpp"
#include "../explain/feature_vis.hpp"
#include "../gallery.hpp"
#include "../mosaic.hpp"
#include "../png.hpp"
#include "../rgb_image.hpp"
#include "created_files.hpp"

namespace fmviz {

/// How the folder is laid out and labelled.
struct ChannelVisualizationPage {
  std::string weights_label;  ///< shown as "weights" on the page; empty: not shown
  std::size_t columns = 8;    ///< the mosaic's pictures per row
};

/// The files write_channel_visualizations writes into `dir`, in order.
inline std::vector<std::string> channel_visualization_files(const std::vector<ChannelVisualization>& results) {
  if (results.empty()) return {};
  std::vector<std::string> files;
  const std::string& layer = results.front().layer;
  for (const ChannelVisualization& v : results)
    files.push_back(layer + (v.channel < 0 ? std::string("_layer") : "_c" + std::to_string(v.channel)) + ".png");
  files.push_back(layer + ".png");
  files.push_back("history.csv");
  files.push_back("index.html");
  return files;
}

/// Writes the visualisations of one layer (visualize_channels' or visualize_layer's results, made with
/// `options`) into `dir`: LAYER_cN.png per channel, LAYER.png (the mosaic, labelled), history.csv (step, then
/// each picture's objective) and index.html. Each file is written atomically; a failure takes back every file
/// and folder the call created, and throws fmviz::Error naming the path.
inline void write_channel_visualizations(const std::vector<ChannelVisualization>& results, const FeatureVisOptions& options,
                                         const std::string& dir, const ChannelVisualizationPage& page = {}) {
  if (results.empty()) throw Error(dir, "channels", "nothing to write");
  const std::string& layer = results.front().layer;
  for (const ChannelVisualization& v : results)
    if (v.layer != layer) throw Error(dir, "channels", "the pictures are of several layers (" + layer + ", " + v.layer + "): one folder per layer");
  const std::vector<std::string> files = channel_visualization_files(results);
  std::vector<Image8> pictures;
  std::vector<std::string> labels;
  for (const ChannelVisualization& v : results) {
    pictures.push_back(to_image8(v.image));
    labels.push_back(v.channel < 0 ? std::string("all") : std::to_string(v.channel));
  }
  MosaicOptions mosaic_options;
  mosaic_options.columns = page.columns;
  const Image8 all = mosaic(pictures, mosaic_options, labels);  // checked before anything is written

  GalleryPage html;
  html.title = "fmviz: what " + layer + "'s channels want to see";
  GallerySection section;
  section.heading = layer + ": images optimised to excite each channel";
  const char* what = results.front().channel < 0 ? "the mean square of the whole layer (DeepDream)"
                     : options.objective == FeatureObjective::neuron ? "the channel at the centre position" : "the channel's mean";
  section.facts = {{"objective", std::string(what) + ", " + describe(options.tap)}};
  section.note = "Made from noise by gradient ascent: a Fourier-space image in decorrelated colours, randomly padded, "
                 "jittered, scaled and rotated at every step (Olah et al., Feature Visualization, Distill 2017).";
  for (std::size_t i = 0; i < results.size(); ++i) {
    char caption[160];
    const ChannelVisualization& v = results[i];
    std::snprintf(caption, sizeof caption, "%s: %.4g at the first step, %.4g on the final image",
                  v.channel < 0 ? "the whole layer" : ("channel " + std::to_string(v.channel)).c_str(),
                  v.activation_history.empty() ? 0.0 : v.activation_history.front(), v.final_activation);
    section.figures.push_back({files[i], pictures[i].width, pictures[i].height, caption});
  }
  html.sections.push_back(std::move(section));
  if (!page.weights_label.empty()) html.options.push_back({"weights", page.weights_label});
  char learning_rate[32];
  std::snprintf(learning_rate, sizeof learning_rate, "%g", options.learning_rate);
  html.options.insert(html.options.end(),
                      {{"layer", layer},
                       {"size", std::to_string(options.size) + " x " + std::to_string(options.size)},
                       {"steps", std::to_string(options.steps) + ", Adam, learning rate " + learning_rate},
                       {"seed", std::to_string(options.seed)},
                       {"transforms", options.transforms ? "pad 12, jitter 8, scale 0.9-1.1, rotate -10..10 degrees, jitter 4" : "none"},
                       {"preset", to_string(options.preset)},
                       {"mosaic", files[results.size()]}});

  detail::CreatedFiles created;
  try {
    created.create_folders(dir);
    const std::filesystem::path base(dir);
    const auto write = [&](const std::string& name, const std::function<void(const std::string&)>& writer) {
      const std::string path = (base / name).string();
      writer(path);
      created.add_file(path);
    };
    for (std::size_t i = 0; i < results.size(); ++i) write(files[i], [&](const std::string& p) { write_png(p, pictures[i]); });
    write(files[results.size()], [&](const std::string& p) { write_png(p, all); });
    write("history.csv", [&](const std::string& p) {
      detail::write_file_atomically(p, [&](std::ostream& out) {
        out << "step";
        for (const ChannelVisualization& v : results) out << "," << (v.channel < 0 ? std::string("layer") : "channel_" + std::to_string(v.channel));
        out << "\n";
        char number[32];
        for (std::size_t s = 0; s < results.front().activation_history.size(); ++s) {
          out << s + 1;
          for (const ChannelVisualization& v : results) {
            std::snprintf(number, sizeof number, ",%.7g", s < v.activation_history.size() ? v.activation_history[s] : 0.0);
            out << number;
          }
          out << "\n";
        }
      });
    });
    write("index.html", [&](const std::string& p) { write_gallery(p, html); });
  } catch (...) {
    created.roll_back();
    throw;
  }
  created.keep();
}

}  // namespace fmviz
