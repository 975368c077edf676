// The atlas as a static site: index.html (the layers, their counts, the settings) and one page per layer, LAYER.html,
// showing each channel's top images as crops of the receptive field around the channel's maximum, with the
// channel's map over each crop. The crops are PNG thumbnails under LAYER/, loaded lazily.
//
// The atlas keeps only indices and positions, so the crops are made by running the network again on the distinct
// top images, batch by batch (memory does not grow with their number), stopping after the last layer shown.
// Like the gallery the pages need no network and no JavaScript; every text is HTML-escaped, every path URL-encoded.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../colormap.hpp"
#include "../decode.hpp"
#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../gallery.hpp"
#include "../grid.hpp"
#include "../image8.hpp"
#include "../layer_info.hpp"
#include "../model_input.hpp"
#include "../network.hpp"
#include "../png.hpp"
#include "../report/created_files.hpp"
#include "../resize.hpp"
#include "../rgb_image.hpp"
#include "../tap.hpp"
#include "../tensor.hpp"
#include "model.hpp"
#include "receptive_field.hpp"

namespace fmviz {

/// How write_atlas_site draws the atlas.
struct AtlasSiteOptions {
  std::size_t thumbnail = 80;        ///< side of each crop in the PNG files, in pixels (16 to 512)
  std::size_t min_window = 24;       ///< a receptive field narrower than this is shown in a window this wide around
                                     ///< it (conv1_1 sees 3 pixels); 0: always the receptive field itself
  bool overlay = true;               ///< below each crop, the channel's map over it (the PNG is thumbnail x 2*thumbnail)
  bool by_mean = true;               ///< also a row of the channel's top images by mean, under the row by max
  Colormap colormap = Colormap::turbo;  ///< the overlay's colours
  double alpha = 0.5;                ///< the overlay's weight: 0 shows only the photo, 1 only the map
  std::size_t batch = 8;             ///< images per forward (fewer when their layer outputs would pass 1 GiB)
  std::vector<std::string> layers;   ///< only these of the atlas's layers; empty: all of them
  std::string title;                 ///< the index page's heading; empty: "fmviz atlas"
  std::size_t max_pixels = 100'000'000;  ///< images larger than this (width * height) are refused, as by read_image
  /// Told of each image that cannot be read (it is skipped: its crops are shown as placeholders with a note).
  std::function<void(std::uint64_t image, const Error& error)> on_skipped;
  /// Told after each batch: distinct images done, out of how many.
  std::function<void(std::size_t done, std::size_t total)> on_progress;
};

namespace detail {

/// Most thumbnails one site writes: past this the atlas is not something a browser can show anyway.
inline constexpr std::size_t atlas_site_max_thumbnails = 2'000'000;
/// A batch's layer outputs stay within this; one image's must fit in four times it.
inline constexpr std::size_t atlas_site_batch_bytes = std::size_t(1) << 30;

/// One thumbnail to make: channel `channel` of the site's layer `layer`, row by max or by mean, place `rank` (from 0).
struct AtlasSiteHit {
  std::size_t layer = 0, channel = 0, rank = 0;
  bool mean = false;
};

/// What the site knows about one of the layers it shows.
struct AtlasSitePlan {
  const AtlasLayer* layer = nullptr;
  ReceptiveField field;
  std::size_t window_h = 0, window_w = 0;  // the crop's size in input pixels: the field, or min_window
  std::vector<float> colour_top;           // per channel: the overlay's top value (its best value by max)
  std::size_t mismatches = 0, checked = 0;  // by-max hits whose re-run value differs from the atlas's
};

/// "c0012-max-3.png": channel 12's third image by max.
inline std::string atlas_thumbnail_name(std::size_t channel, bool mean, std::size_t rank) {
  std::string c = std::to_string(channel);
  if (c.size() < 4) c.insert(0, 4 - c.size(), '0');
  return "c" + c + (mean ? "-mean-" : "-max-") + std::to_string(rank + 1) + ".png";
}

/// A layer name is used as a file and folder name: only letters, digits, '_', '-' and '.' (not first).
inline bool atlas_safe_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (const char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
    if (!ok) return false;
  }
  return true;
}

/// The colour a window is padded with past the image's edges: the preset's mean pixel, i.e. the colour that the
/// network's input zero stands for (what conv1_1's own zero padding sees).
inline std::array<float, 3> atlas_pad_colour(Preset preset) noexcept {
  if (preset == Preset::torchvision)
    return {static_cast<float>(imagenet_mean[0]), static_cast<float>(imagenet_mean[1]), static_cast<float>(imagenet_mean[2])};
  return {static_cast<float>(caffe_bgr_mean[2] / 255.0), static_cast<float>(caffe_bgr_mean[1] / 255.0),
          static_cast<float>(caffe_bgr_mean[0] / 255.0)};
}

/// The crop's window of the input for map position (y, x): the receptive field, widened about its centre to
/// at least `min_window` on each axis.
inline InputWindow atlas_window(const ReceptiveField& rf, std::size_t y, std::size_t x, std::size_t min_window) {
  InputWindow w = rf.window(y, x);
  if (w.height < min_window) {
    w.top -= static_cast<std::int64_t>((min_window - w.height) / 2);
    w.height = min_window;
  }
  if (w.width < min_window) {
    w.left -= static_cast<std::int64_t>((min_window - w.width) / 2);
    w.width = min_window;
  }
  return w;
}

/// The thumbnail of one hit: the window of `photo` (the image as the network saw it), padded with `pad` past the
/// edges and resized to side x side; with `overlay`, below it the same crop with the channel's map (h x w, row-major)
/// blended over it, coloured from 0 to `top`. The map is sampled where each map position's receptive field is
/// centred, bilinearly, clamped at the map's edges; the padding is left without colour.
inline Image8 atlas_thumbnail(const RgbImage& photo, const float* map, std::size_t h, std::size_t w, const ReceptiveField& rf,
                              const InputWindow& window, std::size_t side, const std::array<float, 3>& pad, bool overlay,
                              Colormap colormap, double alpha, float top) {
  RgbImage crop{window.width, window.height, std::vector<float>(window.width * window.height * 3)};
  const auto ih = static_cast<std::int64_t>(photo.height), iw = static_cast<std::int64_t>(photo.width);
  for (std::size_t r = 0; r < window.height; ++r) {
    const std::int64_t sy = window.top + static_cast<std::int64_t>(r);
    for (std::size_t c = 0; c < window.width; ++c) {
      const std::int64_t sx = window.left + static_cast<std::int64_t>(c);
      float* dst = &crop.pixels[(r * window.width + c) * 3];
      if (sy >= 0 && sy < ih && sx >= 0 && sx < iw) {
        const float* src = &photo.pixels[(static_cast<std::size_t>(sy) * photo.width + static_cast<std::size_t>(sx)) * 3];
        dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
      } else {
        dst[0] = pad[0], dst[1] = pad[1], dst[2] = pad[2];
      }
    }
  }
  const Image8 small = to_image8(resize_bilinear(crop, side, side));
  if (!overlay) return small;

  Image8 out(side, 2 * side, 3);
  std::copy(small.pixels.begin(), small.pixels.end(), out.pixels.begin());
  const Normaliser norm(ValueRange{0.0f, top}, colormap);
  // Thumbnail pixel i stands for input coordinate first + (i + 0.5) * window / side - 0.5 (pixel centres), which is
  // map coordinate (that - centre of position 0) / jump.
  const auto map_coordinate = [](const ReceptiveAxis& axis, std::int64_t first, std::size_t span, std::size_t side_, std::size_t i,
                                 std::size_t n, double& input) {
    input = static_cast<double>(first) + (static_cast<double>(i) + 0.5) * static_cast<double>(span) / static_cast<double>(side_) - 0.5;
    const double m = (input - axis.centre(0)) / static_cast<double>(axis.jump);
    return std::min(std::max(m, 0.0), static_cast<double>(n - 1));
  };
  for (std::size_t r = 0; r < side; ++r) {
    double uy = 0;
    const double my = map_coordinate(rf.y, window.top, window.height, side, r, h, uy);
    const auto y0 = static_cast<std::size_t>(my);
    const std::size_t y1 = std::min(y0 + 1, h - 1);
    const double fy = my - static_cast<double>(y0);
    for (std::size_t c = 0; c < side; ++c) {
      double ux = 0;
      const double mx = map_coordinate(rf.x, window.left, window.width, side, c, w, ux);
      const std::uint8_t* p = small.pixel(c, r);
      std::uint8_t* o = out.pixel(c, side + r);
      if (uy < -0.5 || ux < -0.5 || uy >= static_cast<double>(photo.height) - 0.5 || ux >= static_cast<double>(photo.width) - 0.5) {
        o[0] = p[0], o[1] = p[1], o[2] = p[2];  // padding: no map there
        continue;
      }
      const auto x0 = static_cast<std::size_t>(mx);
      const std::size_t x1 = std::min(x0 + 1, w - 1);
      const double fx = mx - static_cast<double>(x0);
      const double a = map[y0 * w + x0] + fx * (static_cast<double>(map[y0 * w + x1]) - map[y0 * w + x0]);
      const double b = map[y1 * w + x0] + fx * (static_cast<double>(map[y1 * w + x1]) - map[y1 * w + x0]);
      const auto rgb = colormap_rgb(colormap, norm(a + fy * (b - a)));
      for (std::size_t k = 0; k < 3; ++k)
        o[k] = static_cast<std::uint8_t>(std::min(255.0, (1.0 - alpha) * p[k] + alpha * rgb[k] + 0.5));
    }
  }
  return out;
}

/// The largest output of layers 0 ... last for one size x size image, in bytes: what a forward holds at its largest.
/// The shapes were checked (Network::output_shape) before this is asked.
template <typename T>
std::size_t atlas_forward_bytes(const Network<T>& net, std::size_t size, std::size_t last) {
  Shape in{1, 3, size, size};
  std::size_t most = 0;
  for (std::size_t i = 0; i <= last && i < net.layers().size(); ++i) {
    in = std::visit([&](const auto& op) { return op.output_shape(in); }, net.layers()[i].op);
    std::size_t n = sizeof(T);
    for (std::size_t d : in) n *= d;
    most = std::max(most, n);
  }
  return most;
}

/// The atlas's layers the site shows, checked against the network and the options before any work; throws
/// fmviz::Error naming the layer, channel or image at fault.
template <typename T>
std::vector<AtlasSitePlan> plan_atlas_site(const Network<T>& net, const Atlas& atlas, const AtlasSiteOptions& o) {
  if (o.thumbnail < 16 || o.thumbnail > 512)
    throw Error({}, "thumbnail", "must be 16 to 512 pixels, got " + std::to_string(o.thumbnail));
  if (o.min_window > 1024) throw Error({}, "min_window", "must be at most 1024 pixels, got " + std::to_string(o.min_window));
  if (!(o.alpha >= 0.0 && o.alpha <= 1.0)) throw Error({}, "alpha", "must be between 0 and 1, got " + std::to_string(o.alpha));
  if (o.batch == 0 || o.batch > 256) throw Error({}, "batch", "must be 1 to 256, got " + std::to_string(o.batch));
  const AtlasSettings& s = atlas.settings;
  if (s.size == 0 || s.size > 8192) throw Error({}, "size", "the atlas's image size must be 1 to 8192, got " + std::to_string(s.size));
  if (atlas.layers.empty()) throw Error({}, "layers", "the atlas has no layers");
  if (atlas.images.size() != atlas.image_count)
    throw Error({}, "images", "the atlas holds " + std::to_string(atlas.images.size()) + " of its " + std::to_string(atlas.image_count) +
                                  " images' paths (a shard's table knows only its own): merge the shards first");
  for (std::size_t i = 0; i < atlas.images.size(); ++i)
    if (atlas.images[i].empty()) throw Error({}, "images", "image " + std::to_string(i) + " has an empty path");

  std::vector<const AtlasLayer*> chosen;
  for (std::size_t i = 0; i < atlas.layers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (atlas.layers[j].name == atlas.layers[i].name) throw Error({}, atlas.layers[i].name, "the atlas has this layer twice");
  if (o.layers.empty()) {
    for (const AtlasLayer& l : atlas.layers) chosen.push_back(&l);
  } else {
    for (const std::string& name : o.layers) {
      const auto it = std::find_if(atlas.layers.begin(), atlas.layers.end(), [&](const AtlasLayer& l) { return l.name == name; });
      if (it == atlas.layers.end()) throw Error({}, name, "is not in the atlas");
      if (std::find(chosen.begin(), chosen.end(), &*it) != chosen.end()) throw Error({}, name, "asked for twice");
      chosen.push_back(&*it);
    }
  }

  std::vector<AtlasSitePlan> plans;
  std::size_t thumbnails = 0, per_image_bytes = 0;  // the largest layer output, for one image
  for (const AtlasLayer* l : chosen) {
    if (!atlas_safe_name(l->name) || l->name == "index")
      throw Error({}, l->name, "cannot name a page and a folder (letters, digits, '_', '-' and '.' only)");
    if (!net.has_layer(l->name)) net.layer(l->name);  // throws, listing the network's layers
    if (net.layer(l->name).info.kind != LayerKind::conv2d) throw Error({}, l->name, "is not a conv layer of this network");
    if (s.tap == Tap::relu) {
      const std::size_t at = net.layer(l->name).info.index;
      if (at + 1 >= net.layers().size() || net.layers()[at + 1].info.relu_of != l->name)
        throw Error({}, l->name, "has no ReLU after it in this network, so it has no relu tap");
    }
    const Shape shape = net.output_shape({1, 3, s.size, s.size}, l->name);
    // The shape of the conv's output (the stop includes its ReLU, which keeps the shape).
    if (shape.size() != 4 || shape[1] != l->channels.size() || shape[2] != l->height || shape[3] != l->width)
      throw Error({}, l->name, "the atlas has " + std::to_string(l->channels.size()) + " channels of " + std::to_string(l->height) + " x " +
                                   std::to_string(l->width) + " but the network gives " + shape_to_string(shape) + " for " +
                                   std::to_string(s.size) + " x " + std::to_string(s.size) + " images");
    AtlasSitePlan plan;
    plan.layer = l;
    plan.field = receptive_field(net, l->name);
    plan.window_h = std::max(plan.field.y.size, o.min_window);
    plan.window_w = std::max(plan.field.x.size, o.min_window);
    plan.colour_top.assign(l->channels.size(), 1.0f);
    for (std::size_t c = 0; c < l->channels.size(); ++c) {
      const ChannelTop& top = l->channels[c];
      for (int mean = 0; mean < 2; ++mean) {
        const std::vector<AtlasHit>& hits = mean ? top.by_mean : top.by_max;
        const std::string row = std::string("channel ") + std::to_string(c) + (mean ? " by mean" : " by max");
        if (hits.size() > s.top_k)
          throw Error({}, l->name, row + ": " + std::to_string(hits.size()) + " images, more than the atlas's top " + std::to_string(s.top_k));
        for (std::size_t k = 0; k < hits.size(); ++k) {
          const AtlasHit& hit = hits[k];
          const std::string which = row + ", place " + std::to_string(k + 1);
          if (hit.image >= atlas.images.size())
            throw Error({}, l->name, which + ": image " + std::to_string(hit.image) + " is not in the atlas's list of " +
                                         std::to_string(atlas.images.size()) + " images");
          if (hit.y >= l->height || hit.x >= l->width)
            throw Error({}, l->name, which + ": position (" + std::to_string(hit.y) + ", " + std::to_string(hit.x) + ") is outside the " +
                                         std::to_string(l->height) + " x " + std::to_string(l->width) + " map");
          if (!std::isfinite(hit.value)) throw Error({}, l->name, which + ": the value is not finite");
        }
        if (!mean || o.by_mean) thumbnails += hits.size();
      }
      float best = 0.0f;  // the overlay's scale: 0 to the channel's best maximum over the dataset
      for (const AtlasHit& hit : top.by_max) best = std::max(best, hit.value);
      if (best > 0.0f) plan.colour_top[c] = best;
    }
    per_image_bytes = std::max(per_image_bytes, shape[1] * shape[2] * shape[3] * sizeof(T));
    plans.push_back(std::move(plan));
  }
  if (thumbnails > atlas_site_max_thumbnails)
    throw Error({}, "atlas", std::to_string(thumbnails) + " thumbnails to write, more than a site holds (" +
                                 std::to_string(atlas_site_max_thumbnails) + "): choose fewer layers");
  std::size_t last = 0;
  for (const AtlasSitePlan& p : plans) last = std::max(last, net.layer(p.layer->name).info.index);
  per_image_bytes = std::max(per_image_bytes, atlas_forward_bytes(net, s.size, last));
  if (per_image_bytes > 4 * atlas_site_batch_bytes)
    throw Error({}, "size", "one " + std::to_string(s.size) + " x " + std::to_string(s.size) + " image needs layer outputs of " +
                                std::to_string(per_image_bytes >> 20) + " MiB, more than the site allows (" +
                                std::to_string((4 * atlas_site_batch_bytes) >> 20) + " MiB)");
  return plans;
}

inline const char* atlas_site_css() {
  return R"(body{max-width:1500px}
header p{margin:.2em 0}
nav.channels{font-size:.8em;line-height:1.6}nav.channels a{margin-right:.35em}
section.ch{display:flex;align-items:flex-start;gap:.6em;padding:.4em .6em;margin:.4em 0}
section.ch h2{width:4.5em;flex:none;font-size:.95em;margin:0}section.ch h2 small{display:block;font-weight:normal;color:#555}
.hits{display:flex;flex-wrap:wrap;gap:3px;align-items:flex-start;margin:0 0 4px}
.hits img{display:block;max-width:none}
.rank{width:2.8em;flex:none;font-size:.8em;color:#555}
.gone{display:flex;align-items:center;justify-content:center;text-align:center;background:#eee;color:#a00;font-size:.75em}
table.layers td,table.layers th{padding-right:1.4em}
)";
}

inline std::string atlas_plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// The HTML of one layer's page.
inline std::string render_atlas_layer_page(const Atlas& atlas, const AtlasSitePlan& plan, const AtlasSiteOptions& o,
                                           const std::map<std::uint64_t, std::string>& skipped) {
  const AtlasLayer& l = *plan.layer;
  const std::size_t thumb_h = o.overlay ? 2 * o.thumbnail : o.thumbnail;
  std::string html;
  gallery_head(html, l.name + ": fmviz atlas");
  html.insert(html.find("</style>"), atlas_site_css());
  html += "<header>\n<h1>" + html_escape(l.name) + "</h1>\n<p><a href=\"index.html\">&#8592; all layers</a> &#183; " +
          atlas_plural(l.channels.size(), "channel", "channels") + " &#183; map " + std::to_string(l.height) + " &#215; " +
          std::to_string(l.width) + " &#183; receptive field " + std::to_string(plan.field.y.size) +
          (plan.field.square() ? "" : " &#215; " + std::to_string(plan.field.x.size)) + " px, every " +
          std::to_string(plan.field.y.jump) + " px &#183; top " + std::to_string(atlas.settings.top_k) + " of " +
          atlas_plural(atlas.images.size(), "image", "images") + " by max" + (o.by_mean ? " and by mean" : "") + " &#183; " +
          html_escape(describe(atlas.settings.tap)) + "</p>\n";
  std::string window = "the " + std::to_string(plan.field.y.size) + " px receptive field";
  if (plan.window_h > plan.field.y.size || plan.window_w > plan.field.x.size)
    window = "a " + std::to_string(plan.window_h) + " px window centred on the " + std::to_string(plan.field.y.size) + " px receptive field";
  html += "<p class=\"note\">Each picture: " + window + " of the channel's maximum in the image (as the network saw it, " +
          std::to_string(atlas.settings.size) + " &#215; " + std::to_string(atlas.settings.size) +
          "), padded with the mean colour past the image's edge" +
          (o.overlay ? std::string("; below it, the channel's map over it (") + to_string(o.colormap) +
                           ", from 0 to the channel's highest value over the images)"
                     : std::string()) +
          ". Hover for the image's name and value.</p>\n";
  if (plan.checked && plan.mismatches)
    html += "<p class=\"none\">" + std::to_string(plan.mismatches) + " of " + std::to_string(plan.checked) +
            " images give another value at the recorded position than the atlas says: was it made with other weights or settings?</p>\n";
  html += "<nav class=\"channels\">";
  for (std::size_t c = 0; c < l.channels.size(); ++c) html += "<a href=\"#c" + std::to_string(c) + "\">" + std::to_string(c) + "</a> ";  // spaces: the list wraps
  html += "</nav>\n</header>\n";

  const std::string folder = url_encode_path(l.name) + "/";
  const std::string size_attrs = " width=\"" + std::to_string(o.thumbnail) + "\" height=\"" + std::to_string(thumb_h) + "\"";
  for (std::size_t c = 0; c < l.channels.size(); ++c) {
    const ChannelTop& top = l.channels[c];
    const std::string id = "c" + std::to_string(c);
    html += "<section class=\"ch\" id=\"" + id + "\"><h2><a href=\"#" + id + "\">" + std::to_string(c) + "</a>";
    if (!top.by_max.empty()) html += "<small>max " + html_escape(gallery_number(top.by_max.front().value)) + "</small>";
    html += "</h2><div>\n";
    for (int mean = 0; mean < (o.by_mean ? 2 : 1); ++mean) {
      const std::vector<AtlasHit>& hits = mean ? top.by_mean : top.by_max;
      html += std::string("<div class=\"hits\"><span class=\"rank\">") + (mean ? "mean" : "max") + "</span>";
      if (hits.empty()) html += "<span class=\"note\">no images</span>";
      for (std::size_t k = 0; k < hits.size(); ++k) {
        const AtlasHit& hit = hits[k];
        const std::string& name = atlas.images[hit.image];
        const std::string facts = name + ": " + (mean ? "mean " : "max ") + gallery_number(hit.value) + ", maximum at (" +
                                  std::to_string(hit.y) + ", " + std::to_string(hit.x) + ")";
        const auto gone = skipped.find(hit.image);
        if (gone != skipped.end()) {
          html += "<span class=\"gone\" style=\"width:" + std::to_string(o.thumbnail) + "px;height:" + std::to_string(thumb_h) +
                  "px\" title=\"" + html_escape(gone->second) + "\">unreadable</span>";
          continue;
        }
        html += "<img loading=\"lazy\" src=\"" + html_escape(folder + atlas_thumbnail_name(c, mean != 0, k)) + "\"" + size_attrs +
                " alt=\"" + html_escape(name) + "\" title=\"" + html_escape(facts) + "\">";
      }
      html += "</div>\n";
    }
    html += "</div></section>\n";
  }
  html += "<footer><p class=\"note\">Made by fmviz.</p></footer>\n</body>\n</html>\n";
  return html;
}

/// The HTML of the index page.
inline std::string render_atlas_index(const Atlas& atlas, const std::vector<AtlasSitePlan>& plans, const AtlasSiteOptions& o,
                                      const std::map<std::uint64_t, std::string>& skipped, std::size_t distinct) {
  const std::string title = o.title.empty() ? std::string("fmviz atlas") : o.title;
  std::string html;
  gallery_head(html, title);
  html.insert(html.find("</style>"), atlas_site_css());
  html += "<header>\n<h1>" + html_escape(title) + "</h1>\n<p class=\"note\">For every channel of these layers, the " +
          std::to_string(atlas.settings.top_k) + " images of " + atlas_plural(atlas.images.size(), "image", "images") +
          " where the channel's maximum is highest" + (o.by_mean ? " (and where its mean is)" : "") +
          ", each shown as the window of the image around that maximum that the channel sees.</p>\n</header>\n";
  html += "<section class=\"layers\">\n<h2>Layers</h2>\n<table class=\"layers\">\n<tr><th>layer</th><th>channels</th><th>map</th>"
          "<th>receptive field</th><th>every</th></tr>\n";
  for (const AtlasSitePlan& p : plans) {
    const AtlasLayer& l = *p.layer;
    html += "<tr><td><a href=\"" + html_escape(url_encode_path(l.name + ".html")) + "\">" + html_escape(l.name) + "</a></td><td>" +
            std::to_string(l.channels.size()) + "</td><td>" + std::to_string(l.height) + " &#215; " + std::to_string(l.width) +
            "</td><td>" + std::to_string(p.field.y.size) + (p.field.square() ? "" : " &#215; " + std::to_string(p.field.x.size)) +
            " px</td><td>" + std::to_string(p.field.y.jump) + " px</td></tr>\n";
  }
  html += "</table>\n</section>\n<section class=\"options\">\n<h2>Settings</h2>\n<table>\n";
  const AtlasSettings& s = atlas.settings;
  const auto fact = [&](const std::string& key, const std::string& value) { gallery_fact(html, html_escape(key), html_escape(value)); };
  if (!s.weights_label.empty()) fact("weights", s.weights_label);
  std::string count = std::to_string(atlas.images.size()) + " (" + std::to_string(distinct) + " among the top images";
  if (!atlas.skipped.empty()) count += "; " + std::to_string(atlas.skipped.size()) + " could not be read when the atlas was made";
  if (atlas.shard.count > 1)
    count += "; shard " + std::to_string(atlas.shard.index) + " of " + std::to_string(atlas.shard.count) + " only";
  fact("images", count + ")");
  fact("top", std::to_string(s.top_k) + " per channel, by max" + (o.by_mean ? " and by mean" : ""));
  fact("size", std::to_string(s.size) + " x " + std::to_string(s.size));
  fact("preset", std::string(to_string(s.preset)) + ": " + describe(s.preset));
  fact("tap", std::string(to_string(s.tap)) + ": " + describe(s.tap));
  fact("crops", std::to_string(o.thumbnail) + " px" + (o.overlay ? std::string(", with the map over them (") + to_string(o.colormap) + ")" : std::string()));
  html += "</table>\n</section>\n";
  std::size_t mismatches = 0, checked = 0;
  for (const AtlasSitePlan& p : plans) mismatches += p.mismatches, checked += p.checked;
  if (mismatches)
    html += "<section class=\"warning\"><p class=\"none\">" + std::to_string(mismatches) + " of " + std::to_string(checked) +
            " top images give another value at the recorded position than the atlas says: was it made with other weights or "
            "settings?</p></section>\n";
  if (!skipped.empty()) {
    html += "<section class=\"skipped\">\n<h2>Unreadable images</h2>\n<p class=\"note\">Shown as placeholders.</p>\n<table>\n";
    for (const auto& entry : skipped) {
      const std::string& path = atlas.images[entry.first];
      const bool named = entry.second.compare(0, path.size() + 2, path + ": ") == 0;  // the path is the key already
      fact(path, named ? entry.second.substr(path.size() + 2) : entry.second);
    }
    html += "</table>\n</section>\n";
  }
  html += "<footer><p class=\"note\">Made by fmviz.</p></footer>\n</body>\n</html>\n";
  return html;
}

}  // namespace detail

/// Writes the atlas as a static site into `out_dir` (created if needed): index.html, LAYER.html for each layer shown
/// and LAYER/cCCCC-max-K.png (and -mean-K.png) thumbnails. The top images are read again from Atlas::images, resized
/// to settings.size and run through `net` (which must be the network the atlas was made with, up to at least its
/// last layer) in batches, stopping after the last layer shown. An image that cannot be read is skipped: its crops
/// are placeholders and the index lists it (options.on_skipped hears of it).
///
/// The atlas is checked against the network before any work: layers, channel counts and map sizes, image indices
/// and positions; a bad atlas or option throws fmviz::Error naming the layer, channel or image. Any later failure
/// throws fmviz::Error after taking back every file and folder the call created. Every file is written atomically.
inline void write_atlas_site(const Network<float>& net, const Atlas& atlas, const std::string& out_dir, const AtlasSiteOptions& options = {}) {
  namespace fs = std::filesystem;
  using detail::AtlasSiteHit;
  if (out_dir.empty()) throw Error({}, "out", "needs a folder name");
  std::vector<detail::AtlasSitePlan> plans = detail::plan_atlas_site(net, atlas, options);
  const AtlasSettings& s = atlas.settings;

  // Which thumbnails each distinct image gives, so that each image is read and run once.
  std::map<std::uint64_t, std::vector<AtlasSiteHit>> by_image;
  std::string stop;
  std::size_t stop_index = 0;
  for (std::size_t p = 0; p < plans.size(); ++p) {
    const AtlasLayer& l = *plans[p].layer;
    const std::size_t at = net.layer(l.name).info.index;
    if (stop.empty() || at > stop_index) stop = l.name, stop_index = at;
    for (std::size_t c = 0; c < l.channels.size(); ++c)
      for (int mean = 0; mean < (options.by_mean ? 2 : 1); ++mean) {
        const std::vector<AtlasHit>& hits = mean ? l.channels[c].by_mean : l.channels[c].by_max;
        for (std::size_t k = 0; k < hits.size(); ++k) by_image[hits[k].image].push_back({p, c, k, mean != 0});
      }
  }
  std::vector<std::uint64_t> images;
  for (const auto& entry : by_image) images.push_back(entry.first);

  const std::size_t per_image = std::max<std::size_t>(1, detail::atlas_forward_bytes(net, s.size, stop_index));
  const std::size_t batch = std::max<std::size_t>(1, std::min(options.batch, detail::atlas_site_batch_bytes / per_image));
  const std::array<float, 3> pad = detail::atlas_pad_colour(s.preset);

  detail::CreatedFiles created;
  std::map<std::uint64_t, std::string> skipped;
  try {
    created.create_folders(out_dir);
    for (const detail::AtlasSitePlan& p : plans) created.create_folders(fs::path(out_dir) / p.layer->name);

    for (std::size_t first = 0; first < images.size(); first += batch) {
      const std::size_t end = std::min(images.size(), first + batch);
      std::vector<RgbImage> photos;      // as the network saw them
      std::vector<std::uint64_t> which;  // their indices in atlas.images
      for (std::size_t i = first; i < end; ++i) {
        const std::string& path = atlas.images[images[i]];
        try {
          RgbImage img = read_image(path, options.max_pixels);
          if (img.width != s.size || img.height != s.size) img = resize_bilinear(img, s.size, s.size);
          photos.push_back(std::move(img));
          which.push_back(images[i]);
        } catch (const std::bad_alloc&) {
          const Error e(path, "image", "out of memory while decoding it");
          skipped[images[i]] = e.what();
          if (options.on_skipped) options.on_skipped(images[i], e);
        } catch (const Error& e) {
          skipped[images[i]] = e.what();
          if (options.on_skipped) options.on_skipped(images[i], e);
        }
      }
      if (!photos.empty()) {
        const std::size_t plane = 3 * s.size * s.size;
        Tensor<float> x({photos.size(), 3, s.size, s.size});
        for (std::size_t n = 0; n < photos.size(); ++n) {
          const Tensor<float> one = to_tensor<float>(photos[n], s.preset);
          std::copy(one.data(), one.data() + plane, x.data() + n * plane);
        }
        // The thumbnails are made while the layer's output is alive (it is only valid during the visitor's call).
        const auto visitor = [&](const LayerInfo& info, const Tensor<float>& out) {
          const std::string* conv = tapped_conv(info, s.tap);
          if (!conv) return;
          std::size_t p = 0;
          while (p < plans.size() && plans[p].layer->name != *conv) ++p;
          if (p == plans.size()) return;
          detail::AtlasSitePlan& plan = plans[p];
          const AtlasLayer& l = *plan.layer;
          struct Job {
            std::size_t n;
            AtlasSiteHit hit;
          };
          std::vector<Job> jobs;
          for (std::size_t n = 0; n < which.size(); ++n)
            for (const AtlasSiteHit& hit : by_image.at(which[n]))
              if (hit.layer == p) jobs.push_back({n, hit});
          const std::size_t h = l.height, w = l.width, map_size = h * w;
          const fs::path folder = fs::path(out_dir) / l.name;
          std::vector<char> written(jobs.size(), 0), mismatch(jobs.size(), 0);
          std::vector<std::exception_ptr> errors(jobs.size());
          detail::parallel_for(jobs.size(), [&](std::size_t j) {
            const Job& job = jobs[j];
            const AtlasHit& hit = job.hit.mean ? l.channels[job.hit.channel].by_mean[job.hit.rank] : l.channels[job.hit.channel].by_max[job.hit.rank];
            const float* map = out.data() + (job.n * l.channels.size() + job.hit.channel) * map_size;
            if (!job.hit.mean) {
              const float v = map[hit.y * w + hit.x];
              mismatch[j] = !(std::fabs(v - hit.value) <= 1e-3f * std::max(1.0f, std::fabs(hit.value)));
            }
            const fs::path file = folder / detail::atlas_thumbnail_name(job.hit.channel, job.hit.mean, job.hit.rank);
            try {
              const InputWindow window = detail::atlas_window(plan.field, hit.y, hit.x, options.min_window);
              write_png(file.string(), detail::atlas_thumbnail(photos[job.n], map, h, w, plan.field, window, options.thumbnail, pad,
                                                               options.overlay, options.colormap, options.alpha,
                                                               plan.colour_top[job.hit.channel]));
              written[j] = 1;
            } catch (const Error&) {
              errors[j] = std::current_exception();
            } catch (const std::bad_alloc&) {
              errors[j] = std::make_exception_ptr(Error(file.string(), "write", "out of memory"));
            } catch (const std::exception& e) {
              errors[j] = std::make_exception_ptr(Error(file.string(), "write", e.what()));
            }
          });
          for (std::size_t j = 0; j < jobs.size(); ++j) {
            if (written[j]) created.add_file(folder / detail::atlas_thumbnail_name(jobs[j].hit.channel, jobs[j].hit.mean, jobs[j].hit.rank));
            if (!jobs[j].hit.mean) ++plan.checked, plan.mismatches += static_cast<std::size_t>(mismatch[j]);
          }
          for (const std::exception_ptr& error : errors)
            if (error) std::rethrow_exception(error);
        };
        net.forward(std::move(x), visitor, stop);
      }
      if (options.on_progress) options.on_progress(end, images.size());
    }

    for (const detail::AtlasSitePlan& p : plans) {
      const fs::path page = fs::path(out_dir) / (p.layer->name + ".html");
      detail::write_text(page.string(), detail::render_atlas_layer_page(atlas, p, options, skipped));
      created.add_file(page);
    }
    const fs::path index = fs::path(out_dir) / "index.html";
    detail::write_text(index.string(), detail::render_atlas_index(atlas, plans, options, skipped, images.size()));
    created.add_file(index);
  } catch (...) {
    created.roll_back();
    throw;
  }
  created.keep();
}

}  // namespace fmviz
