// The report of one image, in memory: its input picture, every chosen conv layer's grid (and overlay, and array),
// conv1_1's filters, and the gallery page that shows them. Report runs a batch of images through the network
// and renders each image's report.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../classify.hpp"
#include "../error.hpp"
#include "../explain/cam.hpp"
#include "../explain/saliency.hpp"
#include "../filters.hpp"
#include "../gallery.hpp"
#include "../grid.hpp"
#include "../model_input.hpp"
#include "../network.hpp"
#include "../overlay.hpp"
#include "../recorder.hpp"
#include "../resize.hpp"
#include "../rgb_image.hpp"
#include "../tap.hpp"
#include "../tensor.hpp"

namespace fmviz {

/// What a report shows, and how.
struct ReportOptions {
  std::vector<std::string> layers;  ///< conv layers to draw (any order); empty: every conv layer up to stop_after
  std::string stop_after;           ///< run the network only up to this layer; empty: as far as it goes
  Tap tap = Tap::conv;              ///< each conv layer's output before its ReLU, or after it
  Preset preset = Preset::torchvision;
  std::size_t size = 224;           ///< images are resized to size x size before the network
  std::size_t max_pixels = ImageOptions{}.max_pixels;  ///< images of more pixels are refused before decoding
  GridOptions grid = default_grid();  ///< channels, columns, cell size, normalisation, colour map, labels, legend
  bool npy = false;                 ///< also each layer's activation as an array, LAYER.npy (C,H,W)
  bool overlay = false;             ///< also LAYER_overlay.png: the mean (or the one shown channel) over the photo
  bool filters = false;             ///< also conv1_1_filters.png: conv1_1's filters as colour patches
  std::size_t batch = 0;            ///< images per forward; 0: as many as fit in batch_memory_budget, at most 8
  bool classify = false;            ///< also run the classifier: the top classes in the report and on the page
  std::size_t top_classes = 5;      ///< how many classes `classify` reports
  std::optional<CamOptions> cam;    ///< also class activation maps over the image (and as arrays with npy)
  std::optional<SaliencyOptions> saliency;  ///< also saliency maps (and the input gradients as arrays with npy)
  bool stop_at_bad_image = false;   ///< write_report: an image that cannot be read fails the run, instead of being skipped
  std::string weights_label;        ///< shown on every page as "weights" (the file's name, say); empty: not shown

  /// The grid of the classic tutorial's figure, cells enlarged to at least 112 pixels so 14x14 maps stay visible.
  static GridOptions default_grid() {
    GridOptions g;
    g.min_cell = 112;
    return g;
  }
};

/// A picture of a report: its file name inside the image's folder and its pixels.
struct ReportPicture {
  std::string file;  ///< e.g. "conv1_1.png"
  Image8 image;
};

/// An activation of a report, written as .npy: float32, C order.
struct ReportArray {
  std::string file;  ///< e.g. "conv1_1.npy"
  Tensor<float> values;
  Shape shape;       ///< (C, H, W)
};

/// One image's report: what fmviz writes into the image's folder, in memory.
struct ImageReport {
  std::string input;                  ///< the image as given (a path, or any name)
  GalleryPage page;                   ///< the page; its pictures are the file names below
  std::vector<ReportPicture> pictures;  ///< input.png first, then the layers in network order
  std::vector<ReportArray> arrays;    ///< with ReportOptions::npy (unless handed to an array sink)
  std::size_t layers_drawn = 0;
  std::vector<ClassScore> decision;   ///< with ReportOptions::classify: the top classes, highest first
};

/// An image to report on: its name (shown on the page; the file stem names its folder) and its pixels.
struct ReportInput {
  std::string name;
  RgbImage photo;
};

/// Optional calls made while a batch is rendered.
struct RenderHooks {
  /// After each conv layer the forward computes: its name, output shape, and its number among the convs run.
  std::function<void(const std::string& layer, const Shape& shape, std::size_t number, std::size_t count)> on_layer;
  /// Takes each array as soon as it exists (image k of the batch) instead of keeping it in the report: a caller
  /// that writes arrays to disk then holds one layer's, not all of them.
  std::function<void(std::size_t k, ReportArray& array)> array_sink;
};

/// Runs images through a network and renders their reports. Built once per network and options: the
/// constructor checks everything that can be checked before any image is read (layer names, input size, the
/// size of every picture), so a bad request fails at once, naming the option at fault.
class Report {
 public:
  /// Images per forward when ReportOptions::batch is 0: as many as fit in this many bytes of layer outputs...
  static constexpr std::size_t batch_memory_budget = std::size_t(1) << 30;
  /// ... and at most this many.
  static constexpr std::size_t default_batch_limit = 8;

  Report(const Network<float>& net, ReportOptions options) : net_(net), o_(std::move(options)) {
    if ((o_.classify || o_.cam || o_.saliency) && !net_.has_classifier())
      throw Error(o_.weights_label, o_.classify ? "classify" : o_.cam ? "cam" : "saliency",
                  "needs the classifier (fc6 ... fc8), and this network ends at " +
                                                   (net_.layers().empty() ? std::string("nothing") : net_.layers().back().info.name) +
                                                   ": load a weight file that holds the whole VGG16");
    if (o_.classify && (o_.top_classes == 0 || o_.top_classes > net_.output_shape({1, 3, o_.size, o_.size}).back()))
      throw Error({}, "top_classes", "must be from 1 to the number of classes, got " + std::to_string(o_.top_classes));
    if (o_.cam) check_cam_request(net_, *o_.cam);
    if (o_.saliency) check_saliency_request(net_, *o_.saliency);
    plan_layers();
    if (o_.size == 0) throw Error({}, "size", "must be at least 1");
    if (o_.filters && !net_.has_layer("conv1_1")) throw Error({}, "filters", "need a layer conv1_1");
    net_.output_shape({1, 3, o_.size, o_.size}, stop_after_);  // a size the network cannot take fails here
    check_picture_sizes();
    for (std::size_t i = 0; i <= net_.last_index(stop_after_); ++i) convs_run_ += net_.layers()[i].info.kind == LayerKind::conv2d;
  }

  const ReportOptions& options() const noexcept { return o_; }
  /// The conv layers drawn, in network order.
  const std::vector<std::string>& layers() const noexcept { return layers_; }
  /// The layer the forward stops after.
  const std::string& stop_after() const noexcept { return stop_after_; }

  /// Bytes one image needs during a forward: the largest input and output alive together, plus, when every
  /// layer is recorded first (NormScope::network), the recorded layers, plus what an explanation's trace keeps
  /// (saliency: every layer, twice during SmoothGrad; class activation maps: from their layer on).
  std::size_t bytes_per_image() const {
    Shape shape{1, 3, o_.size, o_.size};
    std::size_t largest_pair = 0, recorded = 0, traced = o_.saliency ? shape_size(shape) * sizeof(float) : 0;
    const std::size_t last = net_.last_index(stop_after_);
    const std::size_t kept_from = o_.saliency ? 0 : o_.cam ? net_.layer(cam_activation_layer(net_, *o_.cam)).info.index : last + 1;
    for (std::size_t i = 0; i <= last; ++i) {
      const Shape out = std::visit([&](const auto& op) { return op.output_shape(shape); }, net_.layers()[i].op);
      largest_pair = std::max(largest_pair, (shape_size(shape) + shape_size(out)) * sizeof(float));
      if (net_.layers()[i].info.kind == LayerKind::conv2d && drawn(net_.layers()[i].info.name)) recorded += shape_size(out) * sizeof(float);
      if (i >= kept_from) traced += shape_size(out) * sizeof(float);
      shape = out;
    }
    const bool smoothgrad = o_.saliency && std::find(o_.saliency->methods.begin(), o_.saliency->methods.end(),
                                                     SaliencyMethod::smoothgrad) != o_.saliency->methods.end();
    return largest_pair + (records_all() ? recorded : 0) + traced * (smoothgrad ? 2 : 1);
  }

  /// Images per forward for a run over `image_count` images.
  std::size_t batch_size(std::size_t image_count) const {
    const std::size_t n = std::max<std::size_t>(image_count, 1);
    if (o_.batch) return std::min(o_.batch, n);
    const std::size_t fits = std::max<std::size_t>(1, batch_memory_budget / std::max<std::size_t>(bytes_per_image(), 1));
    return std::min({fits, default_batch_limit, n});
  }

  /// The options as shown on each page: a two-column table.
  std::vector<std::pair<std::string, std::string>> options_table() const {
    const GridOptions& g = o_.grid;
    std::vector<std::pair<std::string, std::string>> rows;
    if (!o_.weights_label.empty()) rows.push_back({"weights", o_.weights_label});
    rows.insert(rows.end(),
                {{"tap", describe(o_.tap)},
                 {"preset", to_string(o_.preset)},
                 {"input size", std::to_string(o_.size) + " x " + std::to_string(o_.size)},
                 {"layers", o_.layers.empty() ? "all conv layers" : layers_.front() + " ... " + layers_.back()},
                 {"channels", to_string(g.channels)},
                 {"normalisation", std::string(to_string(g.scope)) + (g.clip_percent > 0 ? ", clipped at " + std::to_string(g.clip_percent) + "%" : "")},
                 {"colour map", to_string(g.colormap)},
                 {"columns", std::to_string(g.columns)},
                 {"minimum cell", g.min_cell ? std::to_string(g.min_cell) + " px" : "native size"},
                 {"threads", std::to_string(thread_count())}});
    if (o_.classify) rows.push_back({"decision", "the top " + std::to_string(o_.top_classes) + " classes of the last layer's logits"});
    if (o_.cam) rows.push_back({"class activation maps", cam_summary()});
    if (o_.saliency) rows.push_back({"saliency", saliency_summary()});
    return rows;
  }

  /// The report of one image.
  ImageReport render(const RgbImage& photo, const std::string& name, const RenderHooks& hooks = {}) const {
    std::vector<ReportInput> one;
    one.push_back({name, photo});
    return std::move(render(one, hooks).front());
  }

  /// The reports of a batch of images, from one forward. The reports do not depend on the batch's size or on
  /// the thread count, bit for bit.
  std::vector<ImageReport> render(const std::vector<ReportInput>& inputs, const RenderHooks& hooks = {}) const {
    const std::size_t count = inputs.size();
    std::vector<ImageReport> reports(count);
    if (count == 0) return reports;
    std::vector<Tensor<float>> tensors;
    for (std::size_t k = 0; k < count; ++k) {
      ImageReport& r = reports[k];
      const RgbImage& photo = inputs[k].photo;
      const RgbImage seen = o_.size == photo.width && o_.size == photo.height ? photo : resize_bilinear(photo, o_.size, o_.size);
      r.input = inputs[k].name;
      r.page.title = "fmviz: " + std::filesystem::path(inputs[k].name).filename().string();
      r.page.input_name = inputs[k].name;
      r.page.input_picture = "input.png";
      r.page.options = options_table();
      r.pictures.push_back({"input.png", to_image8(seen)});
      tensors.push_back(to_tensor<float>(seen, o_.preset));
    }
    Tensor<float> input = count == 1 ? std::move(tensors.front()) : stack_batch(tensors);
    tensors.clear();

    // One image's (1,C,H,W) part of a layer: its grid, overlay and array.
    const auto draw = [&](std::size_t k, const std::string& name, const Tensor<float>& a, const GridOptions& grid_options) {
      ImageReport& r = reports[k];
      Grid grid = make_grid(a, grid_options);
      if (o_.npy) {
        ReportArray array{name + ".npy", a, {a.dim(1), a.dim(2), a.dim(3)}};
        if (hooks.array_sink) hooks.array_sink(k, array);
        else r.arrays.push_back(std::move(array));
      }
      const ValueRange range = value_range(a);
      GalleryLayer layer{name, name + ".png", grid.image.width, grid.image.height, {a.dim(1), a.dim(2), a.dim(3)},
                         range.lo, range.hi, grid.channels, {}};
      if (o_.grid.channels.kind == ChannelSelection::Kind::top) layer.note = "the channels of highest mean activation, highest first";
      r.page.layers.push_back(layer);
      r.pictures.push_back({name + ".png", std::move(grid.image)});
      if (o_.overlay) {
        OverlayOptions overlay_options;
        if (grid.channels.size() == 1) overlay_options.channel = grid.channels.front();
        Image8 over = fmviz::overlay(inputs[k].photo, a, overlay_options);
        std::vector<std::size_t> shown;
        if (overlay_options.channel) shown.push_back(*overlay_options.channel);
        else for (std::size_t c = 0; c < a.dim(1); ++c) shown.push_back(c);
        r.page.layers.push_back({name + " overlay", name + "_overlay.png", over.width, over.height, layer.shape, range.lo, range.hi,
                                 std::move(shown),
                                 overlay_options.channel ? "this channel over the photo" : "the mean over all channels, over the photo"});
        r.pictures.push_back({name + "_overlay.png", std::move(over)});
      }
      ++r.layers_drawn;
    };
    // Every image's part of a layer: the network's own output for a batch of one, else a copy of each part.
    const auto draw_batch = [&](const std::string& name, const Tensor<float>& output) {
      for (std::size_t k = 0; k < count; ++k) {
        if (count == 1) draw(k, name, output, o_.grid);
        else draw(k, name, batch_item(output, k), o_.grid);
      }
    };

    // Each layer is drawn as soon as the network has computed it, so no copy of it is kept. Only a range over
    // the whole network needs every layer first: then they are recorded and drawn after the forward.
    ActivationRecorder<float> recorder(o_.tap, layers_);
    std::size_t done = 0;
    const std::size_t last = net_.last_index(stop_after_);
    auto visitor = [&](const LayerInfo& info, const Tensor<float>& output) {
      if (o_.classify && info.index == last)
        for (std::size_t k = 0; k < count; ++k) {
          reports[k].decision = top_k(output, o_.top_classes, k);
          for (const ClassScore& c : reports[k].decision) {
            char probability[32];
            std::snprintf(probability, sizeof probability, "%.2f%%", 100 * c.probability);
            reports[k].page.decision.push_back({imagenet_class_name(c.index) + " (" + std::to_string(c.index) + ")", probability});
          }
        }
      if (hooks.on_layer && info.kind == LayerKind::conv2d) hooks.on_layer(info.name, output.shape(), ++done, convs_run_);
      if (records_all()) {
        recorder(info, output);
        return;
      }
      if (const std::string* conv = tapped_conv(info, o_.tap))
        if (drawn(*conv)) draw_batch(*conv, output);
    };
    if (o_.cam || o_.saliency) {
      // One forward for the maps, the decision and the explanations: it keeps what the backward needs, which
      // is every layer for saliency, only conv5_3 on (say) for the class activation maps.
      const std::string keep_from = o_.saliency ? std::string() : cam_activation_layer(net_, *o_.cam);
      const ForwardTrace<float> trace = net_.trace(std::move(input), visitor, stop_after_, keep_from);
      if (o_.cam) {
        const auto cams = class_activation_maps(net_, trace, *o_.cam);
        for (std::size_t k = 0; k < count; ++k) add_cams(reports[k], cams[k], hooks, k);
      }
      if (o_.saliency) {
        const auto maps = saliency_maps(net_, trace, *o_.saliency);
        for (std::size_t k = 0; k < count; ++k) add_saliency(reports[k], maps[k], hooks, k);
      }
    } else {
      net_.forward(std::move(input), visitor, stop_after_);
    }
    if (records_all()) {
      for (std::size_t k = 0; k < count; ++k) {
        // This image's part of every recorded layer, its range over all of them, then its grids.
        std::vector<Tensor<float>> parts;
        std::vector<const Tensor<float>*> pointers;
        for (const std::string& name : recorder.names()) parts.push_back(count == 1 ? recorder.at(name) : batch_item(recorder.at(name), k));
        for (const auto& part : parts) pointers.push_back(&part);
        GridOptions grid_options = o_.grid;
        grid_options.network_range = network_range(pointers, grid_options.clip_percent);
        for (std::size_t l = 0; l < parts.size(); ++l) draw(k, recorder.names()[l], parts[l], grid_options);
      }
    }

    if (o_.filters) {
      FilterGridOptions filter_options;
      filter_options.bgr = o_.preset == Preset::caffe;
      filter_options.scope = NormScope::channel;  // each filter to its own range: the classic colour blobs and edges
      const Conv2d<float>& conv = net_.conv("conv1_1");
      const Grid filters = filter_grid(conv, filter_options);
      const auto& w = conv.weight();
      for (ImageReport& r : reports) {
        r.page.layers.push_back({"conv1_1 filters", "conv1_1_filters.png", filters.image.width, filters.image.height,
                                 {w.dim(0), w.dim(1), w.dim(2), w.dim(3)}, filters.range.lo, filters.range.hi, filters.channels,
                                 "the weights of conv1_1, one colour patch per filter, each scaled to its own range"});
        r.pictures.push_back({"conv1_1_filters.png", filters.image});
      }
    }
    return reports;
  }

 private:
  bool records_all() const noexcept { return o_.grid.scope == NormScope::network; }

  std::string class_choice(const std::optional<std::size_t>& c) const {
    return c ? "class " + std::to_string(*c) + " (" + imagenet_class_name(*c) + ")" : std::string("each image's top class");
  }

  std::string cam_summary() const {
    std::string methods;
    for (CamMethod m : o_.cam->methods) methods += (methods.empty() ? "" : ", ") + std::string(describe(m));
    return methods + " at " + o_.cam->layer + " (" + describe(o_.cam->tap) + "), for " + class_choice(o_.cam->class_index);
  }

  std::string saliency_summary() const {
    const SaliencyOptions& so = *o_.saliency;
    std::string methods;
    for (SaliencyMethod m : so.methods) {
      methods += (methods.empty() ? "" : ", ") + std::string(describe(m));
      if (m == SaliencyMethod::smoothgrad) {
        char buf[96];
        std::snprintf(buf, sizeof buf, " (%zu samples, noise %.3g of the range, seed %llu)", so.samples, so.noise,
                      static_cast<unsigned long long>(so.seed));
        methods += buf;
      }
    }
    return methods + ", for " + class_choice(so.class_index);
  }

  static std::string explained(const ClassScore& c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "logit %.4g, probability %.2f%%", static_cast<double>(c.logit), 100 * c.probability);
    return imagenet_class_name(c.index) + " (" + std::to_string(c.index) + "): " + buf;
  }

  // The image as the network saw it (the report's input.png): the maps are drawn over it.
  static const Image8& seen_picture(const ImageReport& r) { return r.pictures.front().image; }

  void add_cams(ImageReport& r, const std::vector<ClassActivationMap>& cams, const RenderHooks& hooks, std::size_t k) const {
    if (cams.empty()) return;
    GallerySection section;
    section.heading = "Where it looks: class activation maps";
    section.facts = {{"class", explained(cams.front().target)},
                     {"layer", cams.front().layer + " (" + describe(cams.front().tap) + "), " + std::to_string(cams.front().map.dim(0)) +
                                   " x " + std::to_string(cams.front().map.dim(1))}};
    section.note = "Each map is scaled to its own range and upsampled over the image as the network saw it (turbo: red is high).";
    for (const ClassActivationMap& cam : cams) {
      const std::string stem = std::string("cam_") + (cam.method == CamMethod::grad_cam_plus_plus ? "gradcampp" : to_string(cam.method)) +
                               "_" + cam.layer;
      Tensor<float> as_activation({1, 1, cam.map.dim(0), cam.map.dim(1)});
      std::copy(cam.map.begin(), cam.map.end(), as_activation.begin());
      OverlayOptions overlay_options;
      overlay_options.channel = 0;
      overlay_options.colormap = Colormap::turbo;
      Image8 picture = overlay(seen_picture(r), as_activation, overlay_options);
      section.figures.push_back({stem + ".png", picture.width, picture.height, describe(cam.method)});
      r.pictures.push_back({stem + ".png", std::move(picture)});
      if (o_.npy) {
        ReportArray array{stem + ".npy", cam.map, {1, cam.map.dim(0), cam.map.dim(1)}};
        if (hooks.array_sink) hooks.array_sink(k, array);
        else r.arrays.push_back(std::move(array));
      }
    }
    r.page.sections.push_back(std::move(section));
  }

  void add_saliency(ImageReport& r, const std::vector<SaliencyMap>& maps, const RenderHooks& hooks, std::size_t k) const {
    if (maps.empty()) return;
    GallerySection section;
    section.heading = "Which pixels matter: saliency";
    section.facts = {{"class", explained(maps.front().target)}};
    section.note = "The gradient of the class's logit with respect to the input: its largest magnitude over the colours, grey "
                   "(white from the 99th percentile up); guided backpropagation in colour (grey is zero).";
    for (const SaliencyMap& m : maps) {
      const std::string stem = std::string("saliency_") + to_string(m.method);
      Image8 picture = saliency_picture(m, o_.preset == Preset::caffe);
      section.figures.push_back({stem + ".png", picture.width, picture.height, describe(m.method)});
      r.pictures.push_back({stem + ".png", std::move(picture)});
      if (o_.npy) {
        ReportArray array{stem + ".npy", m.gradient, m.gradient.shape()};
        if (hooks.array_sink) hooks.array_sink(k, array);
        else r.arrays.push_back(std::move(array));
      }
    }
    r.page.sections.push_back(std::move(section));
  }
  bool whole_network() const noexcept { return o_.classify || o_.cam || o_.saliency; }
  bool drawn(const std::string& name) const { return std::find(layers_.begin(), layers_.end(), name) != layers_.end(); }

  // The conv layers to draw, in network order, and the layer the forward can stop after.
  void plan_layers() {
    std::vector<std::string> available;
    const std::size_t last = net_.last_index(o_.stop_after);
    for (std::size_t i = 0; i <= last; ++i)
      if (net_.layers()[i].info.kind == LayerKind::conv2d) available.push_back(net_.layers()[i].info.name);
    if (available.empty()) throw Error({}, "layers", "the network runs no conv layer" + (o_.stop_after.empty() ? std::string() : " up to " + o_.stop_after));
    stop_after_ = o_.stop_after;
    if (whole_network()) stop_after_.clear();  // the decision and the explanations need the whole network
    if (o_.layers.empty()) {
      layers_ = available;
      return;
    }
    for (const std::string& name : o_.layers)
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        std::string list;
        for (const auto& a : available) list += (list.empty() ? "" : ",") + a;
        throw Error({}, "layers", "'" + name + "' is not a conv layer of this network (accepted: " + list + ")");
      }
    for (const std::string& name : available)
      if (std::find(o_.layers.begin(), o_.layers.end(), name) != o_.layers.end()) layers_.push_back(name);
    stop_after_ = whole_network() ? std::string() : layers_.back();  // nothing after the last chosen layer is needed, but the decision
  }

  // The size of every grid the report draws, checked before anything runs: a picture too large fails at once
  // (as a bad `size`), not after minutes of forwards.
  void check_picture_sizes() const {
    Shape shape{1, 3, o_.size, o_.size};
    const std::size_t last = net_.last_index(stop_after_);
    for (std::size_t i = 0; i <= last; ++i) {
      const auto& layer = net_.layers()[i];
      shape = std::visit([&](const auto& op) { return op.output_shape(shape); }, layer.op);
      if (layer.info.kind != LayerKind::conv2d || !drawn(layer.info.name)) continue;
      try {
        (void)grid_size(shape, o_.grid);
      } catch (const Error& e) {
        throw Error({}, "size", layer.info.name + ": " + e.what() + " at size " + std::to_string(o_.size));
      }
    }
  }

  const Network<float>& net_;
  ReportOptions o_;
  std::vector<std::string> layers_;
  std::string stop_after_;
  std::size_t convs_run_ = 0;
};

}  // namespace fmviz
