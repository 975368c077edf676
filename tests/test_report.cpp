// The report API: what it checks before any image is read, what it renders in memory, how it writes a folder
// (skipping or stopping at bad images, never leaving part of a failed run), and the lists of images.
#include <fmviz/fmviz.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <map>
#include <random>
#include <sstream>

using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::TempDir;
namespace fs = std::filesystem;

namespace {

fmviz::Tensor<float> random_tensor(fmviz::Shape shape, std::uint32_t seed, float scale = 0.3f) {
  return fmviz_test::random_tensor<float>(std::move(shape), seed, -scale, scale);
}

// A small VGG-like network: conv1_1 (3->8), conv1_2 (8->8), pool1, conv2_1 (8->16), each conv with its ReLU.
fmviz::Network<float> small_net() {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv1_1", fmviz::Conv2d<float>(random_tensor({8, 3, 3, 3}, 1), random_tensor({8}, 2), 1, 1));
  layers.emplace_back("relu1_1", fmviz::ReLU{});
  layers.emplace_back("conv1_2", fmviz::Conv2d<float>(random_tensor({8, 8, 3, 3}, 3), random_tensor({8}, 4), 1, 1));
  layers.emplace_back("relu1_2", fmviz::ReLU{});
  layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv2_1", fmviz::Conv2d<float>(random_tensor({16, 8, 3, 3}, 5), random_tensor({16}, 6), 1, 1));
  layers.emplace_back("relu2_1", fmviz::ReLU{});
  return fmviz::Network<float>(std::move(layers));
}

// small_net() with a classifier: pool2 (16x8x8 at size 32), flatten, fc8 with 5 classes.
fmviz::Network<float> small_classifier() {
  std::vector<fmviz::Layer<float>> layers = small_net().layers();
  layers.emplace_back("pool2", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("flatten", fmviz::Flatten{});
  layers.emplace_back("fc8", fmviz::Linear<float>(random_tensor({5, 16 * 8 * 8}, 7), random_tensor({5}, 8)));
  return fmviz::Network<float>(std::move(layers));
}

fmviz::RgbImage photo(std::size_t w, std::size_t h, std::uint32_t seed) {
  fmviz::RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(w * h * 3);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.f, 1.f);
  for (float& v : img.pixels) v = dist(rng);
  return img;
}

fmviz::ReportOptions small_options() {
  fmviz::ReportOptions o;
  o.size = 32;
  o.grid.min_cell = 0;
  return o;
}

std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).generic_string()] = fmviz_test::read_text(e.path());
  return files;
}

void save_png(const fmviz::RgbImage& img, const std::string& path) { fmviz::write_png(path, fmviz::to_image8(img)); }

}  // namespace

TEST_CASE("report: a bad request fails when the report is built, naming the option", "[report]") {
  const auto net = small_net();
  auto o = small_options();
  o.layers = {"conv9_9"};
  auto e = error_of([&] { fmviz::Report(net, o); });
  REQUIRE(e);
  CHECK(e->field() == "layers");
  CHECK_THAT(e->what(), contains("conv1_1,conv1_2,conv2_1"));

  o = small_options();
  o.size = 8192;  // 8 channels of 8192 x 8192: more pixels than any picture may have
  o.grid.min_cell = 0;
  o.grid.channels = fmviz::ChannelSelection::all();
  e = error_of([&] { fmviz::Report(net, o); });
  REQUIRE(e);
  CHECK(e->field() == "size");
  CHECK_THAT(e->what(), contains("conv1_1"));

  o = small_options();
  o.stop_after = "pool9";
  CHECK(error_of([&] { fmviz::Report(net, o); }));

  o = small_options();
  o.classify = true;  // this network has no classifier
  e = error_of([&] { fmviz::Report(net, o); });
  REQUIRE(e);
  CHECK(e->field() == "classify");
}

TEST_CASE("report: layers are drawn in network order and the forward stops after the last one", "[report]") {
  const auto net = small_net();
  auto o = small_options();
  o.layers = {"conv1_2", "conv1_1"};
  const fmviz::Report report(net, o);
  CHECK(report.layers() == std::vector<std::string>{"conv1_1", "conv1_2"});
  CHECK(report.stop_after() == "conv1_2");
  std::vector<std::string> seen;
  fmviz::RenderHooks hooks;
  hooks.on_layer = [&](const std::string& name, const fmviz::Shape&, std::size_t number, std::size_t count) {
    seen.push_back(name + " " + std::to_string(number) + "/" + std::to_string(count));
  };
  const fmviz::ImageReport r = report.render(photo(40, 30, 1), "cat.png", hooks);
  CHECK(seen == std::vector<std::string>{"conv1_1 1/2", "conv1_2 2/2"});
  REQUIRE(r.pictures.size() == 3);
  CHECK(r.pictures[0].file == "input.png");
  CHECK(r.pictures[1].file == "conv1_1.png");
  CHECK(r.pictures[2].file == "conv1_2.png");
  CHECK(r.layers_drawn == 2);
  CHECK(r.page.title == "fmviz: cat.png");
  REQUIRE(r.page.layers.size() == 2);
  CHECK(r.page.layers[1].shape == std::vector<std::size_t>{8, 32, 32});
}

TEST_CASE("report: arrays are the tapped activations, before or after the ReLU", "[report]") {
  const auto net = small_net();
  const fmviz::RgbImage img = photo(32, 32, 2);
  for (fmviz::Tap tap : {fmviz::Tap::conv, fmviz::Tap::relu}) {
    auto o = small_options();
    o.npy = true;
    o.tap = tap;
    const fmviz::ImageReport r = fmviz::Report(net, o).render(img, "x");
    fmviz::ActivationRecorder<float> recorder(tap);
    net.forward(fmviz::to_tensor<float>(img, o.preset), recorder);
    REQUIRE(r.arrays.size() == 3);
    for (const auto& a : r.arrays) {
      const std::string name = a.file.substr(0, a.file.size() - 4);
      const auto& expected = recorder.at(name);
      REQUIRE(a.values.size() == expected.size());
      CHECK(std::equal(a.values.begin(), a.values.end(), expected.begin()));
      CHECK(a.shape == fmviz::Shape{expected.dim(1), expected.dim(2), expected.dim(3)});
    }
    bool any_negative = false;
    for (float v : r.arrays[0].values) any_negative = any_negative || v < 0;
    CHECK(any_negative == (tap == fmviz::Tap::conv));
  }
}

TEST_CASE("report: a batch renders every image exactly as it renders alone", "[report]") {
  const auto net = small_net();
  auto o = small_options();
  o.npy = true;
  o.overlay = true;
  for (auto scope : {fmviz::NormScope::channel, fmviz::NormScope::network}) {
    o.grid.scope = scope;
    const fmviz::Report report(net, o);
    std::vector<fmviz::ReportInput> inputs;
    for (std::uint32_t k = 0; k < 3; ++k) inputs.push_back({"img" + std::to_string(k) + ".png", photo(30 + 7 * k, 41 - 3 * k, 10 + k)});
    const auto together = report.render(inputs);
    REQUIRE(together.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
      const auto alone = report.render(inputs[k].photo, inputs[k].name);
      REQUIRE(alone.pictures.size() == together[k].pictures.size());
      for (std::size_t p = 0; p < alone.pictures.size(); ++p) {
        CHECK(alone.pictures[p].file == together[k].pictures[p].file);
        CHECK(alone.pictures[p].image.pixels == together[k].pictures[p].image.pixels);
      }
      REQUIRE(alone.arrays.size() == together[k].arrays.size());
      for (std::size_t a = 0; a < alone.arrays.size(); ++a)
        CHECK(std::equal(alone.arrays[a].values.begin(), alone.arrays[a].values.end(), together[k].arrays[a].values.begin()));
      CHECK(fmviz::render_gallery(alone.page) == fmviz::render_gallery(together[k].page));
    }
  }
}

TEST_CASE("report: class activation maps and saliency: pictures, arrays, a section each; a batch as alone", "[report]") {
  const auto net = small_classifier();
  auto o = small_options();
  o.npy = true;
  o.layers = {"conv1_1"};
  o.cam.emplace();
  o.cam->layer = "conv2_1";
  o.saliency.emplace();
  o.saliency->samples = 3;
  const fmviz::Report report(net, o);
  CHECK(report.stop_after().empty());  // the explanations need the classifier
  std::vector<fmviz::ReportInput> inputs;
  for (std::uint32_t k = 0; k < 2; ++k) inputs.push_back({"img" + std::to_string(k) + ".png", photo(32, 32, 20 + k)});
  const auto together = report.render(inputs);
  std::vector<std::string> files;
  for (const auto& p : together[0].pictures) files.push_back(p.file);
  CHECK(files == std::vector<std::string>{"input.png", "conv1_1.png", "cam_gradcam_conv2_1.png", "cam_gradcampp_conv2_1.png",
                                          "cam_layercam_conv2_1.png", "saliency_vanilla.png", "saliency_smoothgrad.png",
                                          "saliency_guided.png"});
  std::vector<std::string> arrays;
  for (const auto& a : together[0].arrays) arrays.push_back(a.file);
  CHECK(arrays == std::vector<std::string>{"conv1_1.npy", "cam_gradcam_conv2_1.npy", "cam_gradcampp_conv2_1.npy",
                                           "cam_layercam_conv2_1.npy", "saliency_vanilla.npy", "saliency_smoothgrad.npy",
                                           "saliency_guided.npy"});
  CHECK(together[0].arrays[1].shape == fmviz::Shape{1, 16, 16});
  CHECK(together[0].arrays[4].shape == fmviz::Shape{3, 32, 32});
  // The maps are those of the library's own functions on the same input.
  const auto input = fmviz::to_tensor<float>(inputs[1].photo, o.preset);
  const auto cams = fmviz::class_activation_maps(net, input, *o.cam);
  CHECK(std::equal(cams[0][0].map.begin(), cams[0][0].map.end(), together[1].arrays[1].values.begin()));
  REQUIRE(together[0].page.sections.size() == 2);
  CHECK(together[0].page.sections[0].figures.size() == 3);
  const std::string html = fmviz::render_gallery(together[0].page);
  CHECK_THAT(html, contains("Where it looks: class activation maps"));
  CHECK_THAT(html, contains("SmoothGrad (3 samples, noise 0.15 of the range, seed 0)"));
  CHECK_THAT(html, contains("<figcaption>Grad-CAM++</figcaption>"));
  for (std::size_t k = 0; k < 2; ++k) {
    const auto alone = report.render(inputs[k].photo, inputs[k].name);
    REQUIRE(alone.pictures.size() == together[k].pictures.size());
    for (std::size_t p = 0; p < alone.pictures.size(); ++p) CHECK(alone.pictures[p].image.pixels == together[k].pictures[p].image.pixels);
    for (std::size_t a = 0; a < alone.arrays.size(); ++a)
      CHECK(std::equal(alone.arrays[a].values.begin(), alone.arrays[a].values.end(), together[k].arrays[a].values.begin()));
  }
  // Bad requests fail when the report is built.
  auto bad = o;
  bad.cam->layer = "pool1";
  CHECK(error_of([&] { fmviz::Report(net, bad); })->field() == "cam-layer");
  bad = o;
  bad.cam->class_index = 5;
  CHECK(error_of([&] { fmviz::Report(net, bad); })->field() == "class");
  bad = o;
  bad.weights_label = "convs.bin";
  auto e = error_of([&] { fmviz::Report(small_net(), bad); });
  REQUIRE(e);
  CHECK(e->path() == "convs.bin");
  CHECK(e->field() == "cam");
}

TEST_CASE("report: write_report writes one folder per image and an index; the same files as write_image_report", "[report]") {
  TempDir dir;
  const auto net = small_net();
  auto o = small_options();
  o.npy = true;
  const fmviz::Report report(net, o);
  save_png(photo(40, 40, 3), dir.file("a.png"));
  fs::create_directory(dir.path() / "sub");
  save_png(photo(20, 50, 4), (dir.path() / "sub" / "a.png").string());
  const auto summary = fmviz::write_report(report, {dir.file("a.png"), (dir.path() / "sub" / "a.png").string()}, dir.file("out"));
  CHECK(summary.images_written == 2);
  CHECK(summary.skipped.empty());
  CHECK(summary.index_page == (dir.path() / "out" / "index.html").string());
  const auto files = tree(dir.path() / "out");
  for (const char* folder : {"a", "a-2"})
    for (const char* name : {"index.html", "input.png", "conv1_1.png", "conv1_2.png", "conv2_1.png", "conv1_1.npy", "conv2_1.npy"})
      CHECK(files.count(std::string(folder) + "/" + name) == 1);
  CHECK(files.count("index.html") == 1);
  CHECK(files.size() == 2 * 8 + 1);

  // One image alone goes straight into the folder, and write_image_report writes the same files.
  fmviz::write_report(report, {dir.file("a.png")}, dir.file("one"));
  const fmviz::ImageReport r = report.render(fmviz::read_image(dir.file("a.png")), dir.file("a.png"));
  fmviz::write_image_report(r, dir.file("by_hand"));
  CHECK(tree(dir.path() / "one") == tree(dir.path() / "by_hand"));
}

TEST_CASE("report: a bad image is skipped, or stops the run and leaves nothing", "[report]") {
  TempDir dir;
  const auto net = small_net();
  save_png(photo(40, 40, 5), dir.file("good.png"));
  fmviz_test::write_file(dir.file("bad.png"), fmviz_test::Bytes{0x89, 'P', 'N', 'G', 1, 2, 3});
  const std::vector<std::string> images{dir.file("good.png"), dir.file("bad.png")};

  struct Observer : fmviz::ReportObserver {
    std::vector<std::size_t> written, skipped;
    void image_written(std::size_t i, const std::string&, const fmviz::ImageReport&) override { written.push_back(i); }
    void image_skipped(std::size_t i, const fmviz::Error&) override { skipped.push_back(i); }
  } observer;
  const auto summary = fmviz::write_report(fmviz::Report(net, small_options()), images, dir.file("out"), &observer);
  CHECK(summary.images_written == 1);
  REQUIRE(summary.skipped.size() == 1);
  CHECK(summary.skipped[0].index == 1);
  CHECK_THAT(summary.skipped[0].message, contains("bad.png"));
  CHECK(observer.written == std::vector<std::size_t>{0});
  CHECK(observer.skipped == std::vector<std::size_t>{1});
  CHECK(fs::exists(dir.path() / "out" / "good" / "conv2_1.png"));
  CHECK_FALSE(fs::exists(dir.path() / "out" / "bad"));

  auto o = small_options();
  o.stop_at_bad_image = true;
  const auto e = error_of([&] { fmviz::write_report(fmviz::Report(net, o), images, dir.file("stopped")); });
  REQUIRE(e);
  CHECK(e->path() == dir.file("bad.png"));
  CHECK_FALSE(fs::exists(dir.path() / "stopped"));  // the good image's folder was taken back

  // Only bad images: nothing written, not even the output folder.
  const auto none = fmviz::write_report(fmviz::Report(net, small_options()), {dir.file("bad.png")}, dir.file("none"));
  CHECK(none.images_written == 0);
  CHECK(none.index_page.empty());
  CHECK_FALSE(fs::exists(dir.path() / "none"));
}

TEST_CASE("report: a file that cannot be written fails the run and takes back what it wrote", "[report]") {
  TempDir dir;
  const auto net = small_net();
  save_png(photo(40, 40, 6), dir.file("p.png"));
  save_png(photo(40, 40, 7), dir.file("q.png"));
  fs::create_directories(dir.path() / "out" / "q" / "conv1_2.png");  // a folder where a file must go
  const auto e = error_of([&] { fmviz::write_report(fmviz::Report(net, small_options()), {dir.file("p.png"), dir.file("q.png")}, dir.file("out")); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("conv1_2.png"));
  CHECK(tree(dir.path() / "out").empty());  // p's complete folder was taken back too: a failed run leaves nothing
  CHECK(fs::is_directory(dir.path() / "out" / "q" / "conv1_2.png"));
  CHECK_FALSE(fs::exists(dir.path() / "out" / "p"));
}

TEST_CASE("report: folder names are the file stems, made unique, never index.html", "[report]") {
  const auto names = fmviz::detail::unique_folder_names({"a/cat.jpg", "b/cat.png", "index.html", "cat-2.jpg", "..", "x/.png"}, {"index.html"});
  CHECK(names == std::vector<std::string>{"cat", "cat-2", "index", "cat-2-2", "image", ".png"});
}

TEST_CASE("image lists: folders sorted, hidden and non-image files left out; list files", "[report]") {
  TempDir dir;
  for (const char* name : {"b.jpg", "a.PNG", "c.txt", ".hidden.png", "sub/d.bmp", ".git/e.png", "sub/deeper/f.gif"}) {
    const fs::path p = dir.path() / name;
    fs::create_directories(p.parent_path());
    fmviz_test::write_file(p.string(), fmviz_test::Bytes{1});
  }
  const auto base = dir.path().string();
  CHECK(fmviz::list_images(base) == std::vector<std::string>{(dir.path() / "a.PNG").string(), (dir.path() / "b.jpg").string()});
  CHECK(fmviz::list_images(base, true) ==
        std::vector<std::string>{(dir.path() / "a.PNG").string(), (dir.path() / "b.jpg").string(),
                                 (dir.path() / "sub" / "d.bmp").string(), (dir.path() / "sub" / "deeper" / "f.gif").string()});
  auto e = error_of([&] { fmviz::list_images(dir.file("b.jpg")); });
  REQUIRE(e);
  CHECK(e->field() == "image folder");

  std::istringstream list("# a comment\n\n  \nfirst.jpg\r\nsecond one.png\n  # indented comment\n");
  CHECK(fmviz::read_image_list(list, "list") == std::vector<std::string>{"first.jpg", "second one.png"});
  std::istringstream binary(std::string("a.png\n\0b", 8));
  CHECK(error_of([&] { fmviz::read_image_list(binary, "list"); }));
  e = error_of([&] { fmviz::read_image_list(dir.file("missing.txt")); });
  REQUIRE(e);
  CHECK(e->path() == dir.file("missing.txt"));
  CHECK(error_of([&] { fmviz::read_image_list(base); }));
}

TEST_CASE("channel visualisations: a folder of pictures, a mosaic, the history and a page; nothing left on failure", "[report]") {
  std::vector<fmviz::ChannelVisualization> results(3);
  for (std::size_t i = 0; i < 3; ++i) {
    results[i].layer = "conv2_1";
    results[i].channel = static_cast<int>(5 * i);
    results[i].image = photo(12, 12, 40 + static_cast<std::uint32_t>(i));
    results[i].activation_history = {0.5 * double(i), 1.5, 2.5 + double(i)};
    results[i].final_activation = 3;
  }
  fmviz::FeatureVisOptions options;
  options.steps = 3;
  TempDir tmp;
  const std::string dir = (tmp.path() / "out").string();
  fmviz::write_channel_visualizations(results, options, dir, {"w.bin", 2});
  const auto files = tree(dir);
  std::vector<std::string> names;
  for (const auto& [name, text] : files) names.push_back(name);
  CHECK(names == std::vector<std::string>{"conv2_1.png", "conv2_1_c0.png", "conv2_1_c10.png", "conv2_1_c5.png", "history.csv", "index.html"});
  CHECK(files.at("history.csv") == "step,channel_0,channel_5,channel_10\n1,0,0.5,1\n2,1.5,1.5,1.5\n3,2.5,3.5,4.5\n");
  CHECK_THAT(files.at("index.html"), contains("channel 10: 1 at the first step, 3 on the final image"));
  CHECK_THAT(files.at("index.html"), contains("w.bin"));
  const auto mosaic = fmviz::read_image((tmp.path() / "out" / "conv2_1.png").string());
  CHECK(mosaic.width == 2 * (12 + 4) + 4);  // two columns
  CHECK(mosaic.height == 2 * (12 + 4) + 4);
  // A folder that cannot be made (a file is in the way): an error naming it, and nothing written.
  save_png(photo(4, 4, 1), (tmp.path() / "blocked").string());
  const std::string blocked = (tmp.path() / "blocked" / "out").string();
  const auto e = error_of([&] { fmviz::write_channel_visualizations(results, options, blocked); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("blocked"));
  // A failure at the last file (index.html is a folder) takes back the pictures already written.
  fs::create_directories(tmp.path() / "late" / "index.html");
  CHECK(error_of([&] { fmviz::write_channel_visualizations(results, options, (tmp.path() / "late").string()); }));
  CHECK(std::distance(fs::directory_iterator(tmp.path() / "late"), fs::directory_iterator()) == 1);
  // Pictures of two layers do not share a folder.
  results[1].layer = "conv3_1";
  CHECK(error_of([&] { fmviz::write_channel_visualizations(results, options, (tmp.path() / "mixed").string()); }));
  CHECK_FALSE(fs::exists(tmp.path() / "mixed"));
}
