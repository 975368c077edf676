// The command-line parsers (fmviz; fmviz dream and fmviz atlas when the first argument is "dream" or "atlas"): the
// input is split at NUL bytes into arguments. A bad command line must end in a UsageError (exit status 2) or an fmviz::Error, never
// anything else.
#include "../../tools/cli/atlas.hpp"
#include "../../tools/cli/dream.hpp"
#include "../../tools/cli/options.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args{"fmviz"};
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  if (args.size() > 64) return 0;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  try {
    if (args.size() > 1 && args[1] == "dream") (void)fmviz_cli::parse_dream_args(static_cast<int>(args.size()), argv.data());
    else if (args.size() > 1 && args[1] == "atlas") (void)fmviz_cli::parse_atlas_args(static_cast<int>(args.size()), argv.data());
    else (void)fmviz_cli::parse_args(static_cast<int>(args.size()), argv.data());
  } catch (const fmviz_cli::UsageError&) {
  } catch (const fmviz::Error&) {
  }
  return 0;
}
