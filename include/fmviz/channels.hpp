// Channel selection: which channels of a layer are shown (the first N, a list, all, the top K by mean
// activation), the `--channels` syntax that names them, and how many a selection picks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "stats.hpp"
#include "tensor.hpp"

namespace fmviz {

/// Which channels of a layer are shown (by a grid, in a gallery).
struct ChannelSelection {
  enum class Kind {
    first,  ///< channels 0 .. count-1 (fewer if the layer has fewer)
    list,   ///< exactly `channels`, in that order
    all,    ///< every channel
    top,    ///< the `count` channels of highest mean activation, highest first (ties: lower index first)
  };
  Kind kind = Kind::first;
  std::size_t count = 16;              ///< for first and top
  std::vector<std::size_t> channels;   ///< for list

  static ChannelSelection first(std::size_t n) { return {Kind::first, n, {}}; }
  static ChannelSelection all() { return {Kind::all, 0, {}}; }
  static ChannelSelection top(std::size_t k) { return {Kind::top, k, {}}; }
  static ChannelSelection only(std::vector<std::size_t> list) { return {Kind::list, 0, std::move(list)}; }
};

/// Reads a channel choice: "N" (the first N channels), "all", "topK" (the K channels of highest mean
/// activation), or a comma-separated list of channels and inclusive ranges such as "0-7,42" (a single
/// channel alone is written as a range, "42-42", since a lone number means the first N). Throws
/// fmviz::Error quoting the accepted syntax.
inline ChannelSelection parse_channels(const std::string& text) {
  const auto fail = [&](const std::string& why) -> ChannelSelection {
    throw Error({}, "channels",
                "cannot read \"" + text + "\" (" + why +
                    "): expected N (the first N channels), all, topK (the K channels of highest mean) or a list of channels and ranges such as 0-7,42");
  };
  const auto number = [&](const std::string& s, std::size_t& out) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    out = static_cast<std::size_t>(std::stoul(s));
    return true;
  };
  std::size_t n = 0;
  if (text == "all") return ChannelSelection::all();
  if (text.compare(0, 3, "top") == 0) {
    if (!number(text.substr(3), n)) return fail("top needs a count, as in top8");
    if (n == 0) return fail("top0 selects nothing");
    return ChannelSelection::top(n);
  }
  if (number(text, n)) {
    if (n == 0) return fail("0 selects nothing");
    return ChannelSelection::first(n);
  }
  std::vector<std::size_t> list;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    std::size_t a = 0, b = 0;
    if (dash == std::string::npos) {
      if (!number(item, a)) return fail(item.empty() ? "empty list item" : "\"" + item + "\" is not a channel number");
      b = a;
    } else if (!number(item.substr(0, dash), a) || !number(item.substr(dash + 1), b)) {
      return fail("\"" + item + "\" is not a range such as 0-7");
    } else if (a > b) {
      return fail("range " + item + " runs backwards");
    }
    if (b - a >= 100000 || list.size() + (b - a) >= 100000) return fail("too many channels (at most 100000)");
    for (std::size_t c = a; c <= b; ++c) list.push_back(c);
    start = comma + 1;
  }
  return ChannelSelection::only(std::move(list));
}

/// The selection in parse_channels' syntax ("16", "all", "top8", "0-7,42-42" style lists).
inline std::string to_string(const ChannelSelection& sel) {
  switch (sel.kind) {
    case ChannelSelection::Kind::first: return std::to_string(sel.count);
    case ChannelSelection::Kind::all: return "all";
    case ChannelSelection::Kind::top: return "top" + std::to_string(sel.count);
    case ChannelSelection::Kind::list: break;
  }
  std::string s;
  for (std::size_t i = 0; i < sel.channels.size();) {
    std::size_t j = i;
    while (j + 1 < sel.channels.size() && sel.channels[j + 1] == sel.channels[j] + 1) ++j;
    s += (s.empty() ? "" : ",") + std::to_string(sel.channels[i]) + "-" + std::to_string(sel.channels[j]);
    i = j + 1;
  }
  return s;
}

namespace detail {

inline void check_listed_channels(const ChannelSelection& sel, std::size_t channels) {
  for (std::size_t c : sel.channels)
    if (c >= channels)
      throw Error({}, "channels", "channel " + std::to_string(c) + " does not exist: this layer has channels 0-" + std::to_string(channels - 1));
}

}  // namespace detail

/// The channels `sel` picks from `activation`, in the order they are shown. First N and top K take
/// what there is when the layer has fewer channels; a listed channel out of range throws fmviz::Error.
template <typename T>
std::vector<std::size_t> select_channels(const Tensor<T>& activation, const ChannelSelection& sel) {
  const detail::Dims d = detail::activation_dims(activation, "activation");
  std::vector<std::size_t> out;
  switch (sel.kind) {
    case ChannelSelection::Kind::first:
    case ChannelSelection::Kind::all:
      out.resize(sel.kind == ChannelSelection::Kind::all ? d.c : std::min(sel.count, d.c));
      std::iota(out.begin(), out.end(), std::size_t{0});
      break;
    case ChannelSelection::Kind::top: {
      const std::vector<double> means = channel_means(activation);
      out.resize(d.c);
      std::iota(out.begin(), out.end(), std::size_t{0});
      // Highest mean first, channels whose mean is NaN last (a NaN compares false both ways, which would break
      // the sort); equal means keep their channel order.
      std::stable_sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) {
        const bool nan_a = std::isnan(means[a]), nan_b = std::isnan(means[b]);
        if (nan_a != nan_b) return nan_b;
        return !nan_a && means[a] > means[b];
      });
      out.resize(std::min(sel.count, d.c));
      break;
    }
    case ChannelSelection::Kind::list:
      detail::check_listed_channels(sel, d.c);
      out = sel.channels;
      break;
  }
  if (out.empty()) throw Error({}, "channels", "the selection \"" + to_string(sel) + "\" picks no channel");
  return out;
}

/// How many channels `selection` picks from a layer of `channels` channels (without looking at the values);
/// throws as select_channels does for channels that do not exist.
inline std::size_t selected_channel_count(const ChannelSelection& selection, std::size_t channels) {
  switch (selection.kind) {
    case ChannelSelection::Kind::first:
    case ChannelSelection::Kind::top: return std::min(selection.count, channels);
    case ChannelSelection::Kind::all: return channels;
    case ChannelSelection::Kind::list:
      detail::check_listed_channels(selection, channels);
      return selection.channels.size();
  }
  return 0;
}

}  // namespace fmviz
