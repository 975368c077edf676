// The HTML gallery: one self-contained static page per image (the input, then every layer's grid with
// its name, shape, value range, chosen channels and the options used), and an index page linking several.
//
// The pages need no network and no JavaScript: inline CSS only, pictures referenced by relative paths.
// Every text is HTML-escaped and every path URL-encoded, so file names with spaces, '#', '%', '<', '&',
// quotes or non-ASCII letters are shown and linked correctly.
#pragma once

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/atomic_file.hpp"
#include "error.hpp"

namespace fmviz {

/// One layer's section of a gallery page.
struct GalleryLayer {
  std::string name;                  ///< e.g. "conv1_1"
  std::string picture;               ///< the grid's path relative to the page, '/'-separated, e.g. "conv1_1.png"; empty: none
  std::size_t width = 0, height = 0;  ///< the picture's size in pixels, 0 if unknown; known sizes let the page
                                      ///< reserve space and show small grids enlarged by a whole factor, pixelated
  std::vector<std::size_t> shape;    ///< the activation's shape, e.g. {64, 224, 224}
  float min = 0, max = 0;            ///< the activation's value range
  std::vector<std::size_t> channels;  ///< the channels shown in the grid, in order
  std::string note;                  ///< an optional remark shown under the facts
};

/// A picture among others in a row, with a caption: a class activation map, a saliency map, a channel's
/// optimised image.
struct GalleryFigure {
  std::string picture;                ///< path relative to the page, '/'-separated
  std::size_t width = 0, height = 0;  ///< the picture's size in pixels, 0 if unknown
  std::string caption;                ///< what it is, shown under it
};

/// A section of figures shown side by side, e.g. "Where it looks: class activation maps".
struct GallerySection {
  std::string heading;
  std::vector<std::pair<std::string, std::string>> facts;  ///< shown as a table: what was explained, the options used
  std::string note;                   ///< a remark under the facts
  std::vector<GalleryFigure> figures;
};

/// A gallery page: the input picture, the decision, the figure sections, the options table, then one section
/// per layer.
struct GalleryPage {
  std::string title;                 ///< the page's heading and <title>
  std::string input_picture;         ///< the input's path relative to the page, e.g. "input.png"; empty: none
  std::string input_name;            ///< the input file's name as the user gave it, shown as text
  std::vector<std::pair<std::string, std::string>> decision;  ///< what the network decided: class, probability;
                                                               ///< shown under the input when not empty
  std::vector<GallerySection> sections;  ///< shown after the decision, in order
  std::vector<std::pair<std::string, std::string>> options;  ///< shown as a two-column table, in order
  std::vector<GalleryLayer> layers;  ///< shown in order
  std::string back_link;             ///< optional link to an index page, e.g. "../index.html"; empty: none
};

/// One image on an index page.
struct GalleryIndexEntry {
  std::string title;      ///< shown as the link text
  std::string folder;     ///< the image's folder relative to the index; the link goes to FOLDER/index.html
  std::string thumbnail;  ///< a picture's path relative to the index page, e.g. "cat/input.png"; empty: none
};

namespace detail {

/// `text` with &, <, >, " and ' replaced by character references, and control characters other than
/// tab, line feed and carriage return (which HTML does not allow) replaced by U+FFFD.
inline std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == '\x7f')
          out += "&#xFFFD;";
        else
          out += ch;
    }
  }
  return out;
}

/// A relative path as a URL path: every byte but ASCII letters, digits, '-', '.', '_', '~' and the '/'
/// separator is percent-encoded (so spaces, '#', '?', '%', ':' and UTF-8 bytes stay part of the file name).
inline std::string url_encode_path(std::string_view path) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// A compact list: runs of three or more consecutive numbers become "a-b", e.g. "0-15, 20, 22-31".
inline std::string compact_list(const std::vector<std::size_t>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    if (j - i >= 2) {
      out += std::to_string(values[i]) + "-" + std::to_string(values[j]);
      i = j + 1;
    } else {
      out += std::to_string(values[i]);
      ++i;
    }
  }
  return out;
}

/// A value for the page: four significant digits ("-0.01234", "1.235e+04", "inf", "nan").
inline std::string gallery_number(float value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", static_cast<double>(value));
  return buf;
}

/// The page's style sheet: plain CSS, no web fonts.
inline const char* gallery_css() {
  return R"(body{margin:0 auto;max-width:1200px;padding:1em;font:15px/1.4 system-ui,sans-serif;color:#222;background:#fafafa}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:0 0 .4em}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em;margin:1em 0}
nav a{margin-right:.6em;white-space:nowrap}
table{border-collapse:collapse;margin:.3em 0 .6em}th,td{text-align:left;padding:.15em .8em .15em 0;vertical-align:top}
th{font-weight:600;color:#555}td{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
img{display:block;max-width:100%;height:auto;background:#eee}
img.grid{image-rendering:pixelated}
.note{color:#555;margin:.3em 0}.none{color:#a00}
.row{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;max-width:100%}figcaption{color:#555;font-size:.9em;max-width:320px}
.cards{display:flex;flex-wrap:wrap;gap:1em;padding:0;list-style:none}
.cards li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em;width:240px}
.cards img{max-height:200px;object-fit:contain;margin-bottom:.4em}
)";
}

inline void gallery_head(std::string& html, const std::string& title) {
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>" + html_escape(title) + "</title>\n<style>\n";
  html += gallery_css();
  html += "</style>\n</head>\n<body>\n";
}

inline void gallery_fact(std::string& html, const std::string& name_html, const std::string& value_html) {
  html += "<tr><th scope=\"row\">" + name_html + "</th><td>" + value_html + "</td></tr>\n";
}

/// The display width for a grid `width` pixels wide: enlarged by a whole factor (at most 8) while it
/// stays within 960 pixels, so small feature maps are seen pixel by pixel.
inline std::size_t gallery_scale(std::size_t width) {
  if (width == 0 || width >= 480) return 1;
  const std::size_t s = 960 / width;
  return s < 1 ? 1 : (s > 8 ? 8 : s);
}

inline void write_text(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

}  // namespace detail

/// The HTML text of a gallery page.
inline std::string render_gallery(const GalleryPage& page) {
  using detail::html_escape;
  using detail::url_encode_path;
  std::string html;
  detail::gallery_head(html, page.title);
  html += "<header>\n<h1>" + html_escape(page.title) + "</h1>\n";
  if (!page.back_link.empty())
    html += "<p><a href=\"" + html_escape(url_encode_path(page.back_link)) + "\">&#8592; all images</a></p>\n";
  if (!page.layers.empty()) {
    html += "<nav>";
    for (std::size_t i = 0; i < page.layers.size(); ++i)
      html += "<a href=\"#layer-" + std::to_string(i + 1) + "\">" + html_escape(page.layers[i].name) + "</a> ";
    html += "</nav>\n";
  }
  html += "</header>\n";

  if (!page.input_picture.empty() || !page.input_name.empty()) {
    html += "<section class=\"input\">\n<h2>Input";
    if (!page.input_name.empty()) html += ": " + html_escape(page.input_name);
    html += "</h2>\n";
    if (!page.input_picture.empty())
      html += "<img class=\"photo\" src=\"" + html_escape(url_encode_path(page.input_picture)) + "\" alt=\"input " +
              html_escape(page.input_name) + "\">\n";
    html += "</section>\n";
  }

  if (!page.decision.empty()) {
    html += "<section class=\"decision\">\n<h2>Decision</h2>\n<table>\n";
    for (const auto& [label, value] : page.decision) detail::gallery_fact(html, html_escape(label), html_escape(value));
    html += "</table>\n</section>\n";
  }

  for (const GallerySection& section : page.sections) {
    html += "<section class=\"figures\">\n<h2>" + html_escape(section.heading) + "</h2>\n";
    if (!section.facts.empty()) {
      html += "<table>\n";
      for (const auto& [key, value] : section.facts) detail::gallery_fact(html, html_escape(key), html_escape(value));
      html += "</table>\n";
    }
    if (!section.note.empty()) html += "<p class=\"note\">" + html_escape(section.note) + "</p>\n";
    html += "<div class=\"row\">\n";
    for (const GalleryFigure& f : section.figures) {
      html += "<figure><img src=\"" + html_escape(url_encode_path(f.picture)) + "\" alt=\"" + html_escape(f.caption) + "\"";
      if (f.width && f.height) html += " width=\"" + std::to_string(f.width) + "\" height=\"" + std::to_string(f.height) + "\"";
      html += "><figcaption>" + html_escape(f.caption) + "</figcaption></figure>\n";
    }
    html += "</div>\n</section>\n";
  }

  if (!page.options.empty()) {
    html += "<section class=\"options\">\n<h2>Options</h2>\n<table>\n";
    for (const auto& [key, value] : page.options) detail::gallery_fact(html, html_escape(key), html_escape(value));
    html += "</table>\n</section>\n";
  }

  for (std::size_t i = 0; i < page.layers.size(); ++i) {
    const GalleryLayer& layer = page.layers[i];
    html += "<section class=\"layer\" id=\"layer-" + std::to_string(i + 1) + "\">\n<h2>" + html_escape(layer.name) + "</h2>\n<table>\n";
    std::string shape;
    for (std::size_t d = 0; d < layer.shape.size(); ++d) shape += (d ? " &#215; " : "") + std::to_string(layer.shape[d]);
    detail::gallery_fact(html, "shape", shape.empty() ? "-" : shape);
    detail::gallery_fact(html, "range", detail::gallery_number(layer.min) + " to " + detail::gallery_number(layer.max));
    detail::gallery_fact(html, "channels",
                         layer.channels.empty() ? std::string("none")
                                                : detail::compact_list(layer.channels) + " (" +
                                                      std::to_string(layer.channels.size()) + " shown)");
    html += "</table>\n";
    if (!layer.note.empty()) html += "<p class=\"note\">" + html_escape(layer.note) + "</p>\n";
    if (layer.picture.empty()) {
      html += "<p class=\"none\">no picture</p>\n";
    } else {
      const std::size_t scale = detail::gallery_scale(layer.width);
      html += "<img class=\"grid\" src=\"" + html_escape(url_encode_path(layer.picture)) + "\" alt=\"" + html_escape(layer.name) + "\"";
      if (layer.width && layer.height)
        html += " width=\"" + std::to_string(layer.width * scale) + "\" height=\"" + std::to_string(layer.height * scale) + "\"";
      html += ">\n";
    }
    html += "</section>\n";
  }
  html += "<footer><p class=\"note\">Made by fmviz.</p></footer>\n</body>\n</html>\n";
  return html;
}

/// Writes render_gallery(page) to `path` atomically (a temporary name, then a rename); throws fmviz::Error.
inline void write_gallery(const std::string& path, const GalleryPage& page) { detail::write_text(path, render_gallery(page)); }

/// The HTML text of an index page linking each entry's FOLDER/index.html, with its thumbnail.
inline std::string render_gallery_index(const std::string& title, const std::vector<GalleryIndexEntry>& entries) {
  using detail::html_escape;
  using detail::url_encode_path;
  std::string html;
  detail::gallery_head(html, title);
  html += "<header>\n<h1>" + html_escape(title) + "</h1>\n</header>\n<ul class=\"cards\">\n";
  for (const GalleryIndexEntry& e : entries) {
    std::string folder = e.folder;
    while (!folder.empty() && folder.back() == '/') folder.pop_back();
    const std::string href = html_escape(url_encode_path(folder.empty() ? "index.html" : folder + "/index.html"));
    html += "<li><a href=\"" + href + "\">";
    if (!e.thumbnail.empty())
      html += "<img src=\"" + html_escape(url_encode_path(e.thumbnail)) + "\" alt=\"" + html_escape(e.title) + "\">";
    html += html_escape(e.title) + "</a></li>\n";
  }
  html += "</ul>\n<footer><p class=\"note\">Made by fmviz.</p></footer>\n</body>\n</html>\n";
  return html;
}

/// Writes render_gallery_index(title, entries) to `path` atomically; throws fmviz::Error.
inline void write_gallery_index(const std::string& path, const std::string& title,
                                const std::vector<GalleryIndexEntry>& entries) {
  detail::write_text(path, render_gallery_index(title, entries));
}

}  // namespace fmviz
