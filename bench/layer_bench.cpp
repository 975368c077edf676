// Times VGG16's conv stack layer by layer: each conv layer on its real input, then the whole stack (features).
// Writes the JSON that bench/compare.py reads beside PyTorch's (torch_layers.py) and ONNX Runtime's figures.
#include <fmviz/vgg.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

const char* const usage =
    "usage: fmviz_layer_bench WEIGHTS [--threads T] [--batch N] [--runs R] [--size S] [--algorithm auto|gemm|winograd]\n"
    "                         [--tile 2|4|6] [--stack-only] [--json OUT]\n"
    "Times each conv layer of VGG16 on its real input, then the whole conv stack (medians of R runs after a warm-up).\n"
    "--stack-only: the whole stack alone.\n";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
std::vector<double> time_runs(int runs, F&& f) {
  f();  // warm-up: workspaces, page faults
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return t;
}

std::string json_shape(const fmviz::Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage;
    return argc < 2 ? 2 : 0;
  }
  std::string weights = argv[1], json;
  int threads = 0, runs = 7;
  std::size_t batch = 1, size = 224, tile = 0;
  fmviz::ConvAlgorithm algorithm = fmviz::ConvAlgorithm::automatic;
  bool stack_only = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--stack-only") {
      stack_only = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "fmviz_layer_bench: " << a << " needs a value\n" << usage;
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--threads") threads = std::atoi(v.c_str());
    else if (a == "--batch") batch = std::strtoul(v.c_str(), nullptr, 10);
    else if (a == "--runs") runs = std::max(1, std::atoi(v.c_str()));
    else if (a == "--size") size = std::strtoul(v.c_str(), nullptr, 10);
    else if (a == "--tile") tile = std::strtoul(v.c_str(), nullptr, 10);
    else if (a == "--json") json = v;
    else if (a == "--algorithm" && (v == "auto" || v == "gemm" || v == "winograd"))
      algorithm = v == "auto" ? fmviz::ConvAlgorithm::automatic : v == "gemm" ? fmviz::ConvAlgorithm::gemm : fmviz::ConvAlgorithm::winograd;
    else {
      std::cerr << "fmviz_layer_bench: bad option " << a << " " << v << "\n" << usage;
      return 2;
    }
  }
  if (batch == 0 || size < 32) {
    std::cerr << "fmviz_layer_bench: --batch must be at least 1 and --size at least 32\n";
    return 2;
  }
  try {
    if (threads > 0) fmviz::set_thread_count(threads);
    fmviz::LoadOptions options;
    options.last_layer = "pool5";
    options.algorithm = algorithm;
    options.winograd_tile = tile;
    const auto net = fmviz::load_vgg16<float>(weights, options);

    fmviz::Tensor<float> x({batch, 3, size, size});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 500.f - 1.f;

    // Each conv layer's real input: the output of the layer before it in one forward.
    struct Row {
      std::string name, algorithm;
      fmviz::Shape in, out;
      double gflop = 0, median = 0;
    };
    std::vector<Row> rows;
    std::vector<fmviz::Tensor<float>> inputs;
    fmviz::Tensor<float> previous = x;
    if (!stack_only) net.forward(x, [&](const fmviz::LayerInfo& info, const fmviz::Tensor<float>& out) {
      if (info.kind == fmviz::LayerKind::conv2d) inputs.push_back(previous);
      previous = out;
    });
    std::size_t k = 0;
    for (const auto& layer : net.layers()) {
      const auto* conv = layer.as<fmviz::Conv2d<float>>();
      if (!conv || stack_only) continue;
      const fmviz::Tensor<float>& in = inputs[k++];
      Row r{layer.info.name, conv->algorithm_name(), in.shape(), conv->output_shape(in.shape())};
      r.gflop = 2.0 * double(r.out[0] * r.out[1] * r.out[2] * r.out[3]) * double(conv->in_channels() * 9) / 1e9;
      {
        // As inside a forward: the output reuses the memory of the one before instead of fresh pages each run.
        const fmviz::detail::RecyclingScope recycling;
        r.median = median(time_runs(runs, [&] { (void)conv->forward(in); }));
      }
      rows.push_back(r);
      std::printf("%-8s %-22s %8.2f ms %7.1f GFLOP/s\n", r.name.c_str(), r.algorithm.c_str(), r.median * 1e3, r.gflop / r.median);
    }
    inputs.clear();
    const std::vector<double> stack = time_runs(runs, [&] { (void)net.forward(x); });
    std::printf("features, %d threads, batch %zu: median %.4f s\n", fmviz::thread_count(), batch, median(stack));

    // Where a whole forward's time goes, layer by layer inside it (a visitor sees each output, so each conv and
    // its ReLU run apart here): a layer can take longer here than alone, where its weights stay in cache.
    if (!stack_only) {
      std::vector<std::string> names;
      std::vector<std::vector<double>> shares;
      for (int r = 0; r < runs; ++r) {
        std::size_t i = 0;
        auto last = std::chrono::steady_clock::now();
        net.forward(x, [&](const fmviz::LayerInfo& info, const fmviz::Tensor<float>&) {
          const auto now = std::chrono::steady_clock::now();
          if (r == 0) names.push_back(info.name), shares.emplace_back();
          shares[i++].push_back(std::chrono::duration<double>(now - last).count());
          last = now;
        });
      }
      double convs = 0, others = 0;
      std::printf("inside the forward (ms, median):");
      for (std::size_t i = 0; i < names.size(); ++i) {
        const double t = median(shares[i]);
        const bool conv = names[i].rfind("conv", 0) == 0;
        (conv ? convs : others) += t;
        if (conv) std::printf(" %s %.2f", names[i].c_str(), t * 1e3);
      }
      std::printf("; convs %.2f, ReLU and pooling %.2f\n", convs * 1e3, others * 1e3);
    }

    if (!json.empty()) {
      std::ofstream out(json);
      out << "{\"impl\": \"fmviz\", \"version\": \"" << FMVIZ_VERSION_STRING << "\", \"threads\": " << fmviz::thread_count()
          << ", \"batch\": " << batch << ", \"size\": " << size << ", \"runs\": " << runs
          << ", \"stack_median_s\": " << median(stack) << ", \"stack_times_s\": [";
      for (std::size_t i = 0; i < stack.size(); ++i) out << (i ? ", " : "") << stack[i];
      out << "], \"layers\": [";
      for (std::size_t i = 0; i < rows.size(); ++i)
        out << (i ? ", " : "") << "{\"name\": \"" << rows[i].name << "\", \"algorithm\": \"" << rows[i].algorithm
            << "\", \"in_shape\": " << json_shape(rows[i].in) << ", \"out_shape\": " << json_shape(rows[i].out)
            << ", \"gflop\": " << rows[i].gflop << ", \"median_s\": " << rows[i].median << "}";
      out << "]}\n";
      if (!out) throw fmviz::Error(json, "json", "cannot write");
    }
  } catch (const fmviz::Error& e) {
    std::cerr << "fmviz_layer_bench: " << e.what() << "\n";
    return 1;
  }
}
