// The --channels syntax (parse_channels), its printed form read back, and the selection applied to layers of
// a few channel counts.
#include <fmviz/channels.hpp>
#include <fmviz/grid.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fmviz::ChannelSelection selection;
  try {
    selection = fmviz::parse_channels(text);
  } catch (const fmviz::Error&) {
    return 0;
  }
  // What parse_channels accepts, to_string prints in a form it accepts again, meaning the same channels.
  const fmviz::ChannelSelection again = fmviz::parse_channels(fmviz::to_string(selection));
  if (again.kind != selection.kind || again.count != selection.count || again.channels != selection.channels) __builtin_trap();
  for (std::size_t channels : {1u, 64u, 512u}) {
    try {
      fmviz::GridOptions options;
      options.channels = selection;
      (void)fmviz::grid_size({1, channels, 14, 14}, options);
    } catch (const fmviz::Error&) {
    }
  }
  return 0;
}
