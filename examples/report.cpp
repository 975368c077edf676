// What `fmviz -w WEIGHTS -i IMAGE -o OUT` writes, from the library: the grids of every conv layer and the page.
#include <fmviz/fmviz.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: report WEIGHTS IMAGE OUT_DIR\n";
    return 2;
  }
  try {
    fmviz::LoadOptions load;
    load.last_layer = "conv5_3";  // the conv stack: the classifier is not drawn
    const fmviz::Network<float> net = fmviz::load_vgg16<float>(argv[1], load);
    fmviz::ReportOptions options;  // the command's defaults; set layers, tap, grid, npy, overlay... as you like
    options.weights_label = argv[1];
    const fmviz::ReportSummary done = fmviz::write_report(fmviz::Report(net, options), {argv[2]}, argv[3]);
    if (!done.skipped.empty()) throw fmviz::Error(done.skipped.front().message);
    std::cout << "open " << done.index_page << "\n";
  } catch (const fmviz::Error& e) {
    std::cerr << "report: " << e.what() << "\n";
    return 1;
  }
}
