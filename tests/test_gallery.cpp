// The HTML gallery: escaping, URL encoding, every layer's facts, the options table, atomic writes, the index.
// The real-browser check of the same pages is tests/browser/check_gallery.py.
#include <fmviz/gallery.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::TempDir;

using fmviz_test::read_text;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

fmviz::GalleryPage sample_page() {
  fmviz::GalleryPage page;
  page.title = "fmviz: cat.jpg";
  page.input_picture = "input.png";
  page.input_name = "cat.jpg";
  page.options = {{"weights", "vgg16.safetensors"}, {"tap", "conv"}, {"size", "224"}};
  const char* names[] = {"conv1_1", "conv1_2", "conv2_1"};
  const std::size_t channels[] = {64, 64, 128}, sizes[] = {224, 224, 112};
  for (int i = 0; i < 3; ++i) {
    fmviz::GalleryLayer layer;
    layer.name = names[i];
    layer.picture = std::string(names[i]) + ".png";
    layer.shape = {channels[i], sizes[i], sizes[i]};
    layer.min = -1.5f - static_cast<float>(i);
    layer.max = 2.25f + static_cast<float>(i);
    for (std::size_t c = 0; c < 16; ++c) layer.channels.push_back(c);
    page.layers.push_back(layer);
  }
  return page;
}

}  // namespace

TEST_CASE("gallery: html_escape replaces markup characters", "[gallery]") {
  using fmviz::detail::html_escape;
  CHECK(html_escape("plain text 1.png") == "plain text 1.png");
  CHECK(html_escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  CHECK(html_escape("&amp;") == "&amp;amp;");
  CHECK(html_escape("Stra\xc3\x9f" "e") == "Stra\xc3\x9f" "e");  // UTF-8 passes through
  CHECK(html_escape(std::string("a\0b\x01", 4)) == "a&#xFFFD;b&#xFFFD;");
  CHECK(html_escape("tab\tnew\nline") == "tab\tnew\nline");
}

TEST_CASE("gallery: url_encode_path keeps file names intact", "[gallery]") {
  using fmviz::detail::url_encode_path;
  CHECK(url_encode_path("conv1_1.png") == "conv1_1.png");
  CHECK(url_encode_path("sub/dir/a-b~c.png") == "sub/dir/a-b~c.png");
  CHECK(url_encode_path("my cat #1.png") == "my%20cat%20%231.png");
  CHECK(url_encode_path("100%.png") == "100%25.png");
  CHECK(url_encode_path("a?b&c=d.png") == "a%3Fb%26c%3Dd.png");
  CHECK(url_encode_path("Stra\xc3\x9f" "e/b\xc3\xbcro.png") == "Stra%C3%9Fe/b%C3%BCro.png");
  CHECK(url_encode_path("javascript:alert(1)") == "javascript%3Aalert%281%29");  // never a scheme
  CHECK(url_encode_path("<\"'>\\") == "%3C%22%27%3E%5C");
}

TEST_CASE("gallery: compact_list shortens runs of channels", "[gallery]") {
  using fmviz::detail::compact_list;
  std::vector<std::size_t> first16;
  for (std::size_t c = 0; c < 16; ++c) first16.push_back(c);
  CHECK(compact_list(first16) == "0-15");
  CHECK(compact_list({}) == "");
  CHECK(compact_list({7}) == "7");
  CHECK(compact_list({4, 5}) == "4, 5");
  CHECK(compact_list({0, 1, 2, 10, 12, 13, 14, 15, 3}) == "0-2, 10, 12-15, 3");
  CHECK(compact_list({5, 4, 3}) == "5, 4, 3");
}

TEST_CASE("gallery: a page shows the input, the options and every layer", "[gallery]") {
  const fmviz::GalleryPage page = sample_page();
  const std::string html = fmviz::render_gallery(page);

  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, contains("<meta charset=\"utf-8\">"));
  CHECK_THAT(html, contains("<title>fmviz: cat.jpg</title>"));
  CHECK_THAT(html, contains("<img class=\"photo\" src=\"input.png\""));
  CHECK_THAT(html, contains("Input: cat.jpg"));

  // Options table, in order.
  CHECK_THAT(html, contains("<h2>Options</h2>"));
  const std::size_t w = html.find("<th scope=\"row\">weights</th><td>vgg16.safetensors</td>");
  const std::size_t t = html.find("<th scope=\"row\">tap</th><td>conv</td>");
  const std::size_t s = html.find("<th scope=\"row\">size</th><td>224</td>");
  REQUIRE(w != std::string::npos);
  REQUIRE(t != std::string::npos);
  REQUIRE(s != std::string::npos);
  CHECK(w < t);
  CHECK(t < s);

  // Every layer, in order, with its name, shape, range, channels and picture.
  std::size_t previous = html.find("<h2>Options</h2>");
  for (std::size_t i = 0; i < page.layers.size(); ++i) {
    const fmviz::GalleryLayer& layer = page.layers[i];
    INFO(layer.name);
    const std::size_t at = html.find("<h2>" + layer.name + "</h2>");
    REQUIRE(at != std::string::npos);
    CHECK(at > previous);
    previous = at;
    const std::size_t end = html.find("</section>", at);
    REQUIRE(end != std::string::npos);
    const std::string section = html.substr(at, end - at);
    CHECK_THAT(section, contains("<td>" + std::to_string(layer.shape[0]) + " &#215; " + std::to_string(layer.shape[1]) +
                                 " &#215; " + std::to_string(layer.shape[2]) + "</td>"));
    CHECK_THAT(section, contains(fmviz::detail::gallery_number(layer.min) + " to " + fmviz::detail::gallery_number(layer.max)));
    CHECK_THAT(section, contains("<td>0-15 (16 shown)</td>"));
    CHECK_THAT(section, contains("src=\"" + layer.name + ".png\""));
  }
  CHECK_THAT(html, contains("<td>-1.5 to 2.25</td>"));
  CHECK_THAT(html, contains("<td>-3.5 to 4.25</td>"));
  CHECK(count_of(html, "<img ") == 1 + page.layers.size());
  CHECK(count_of(html, "<section class=\"layer\"") == page.layers.size());
  CHECK_THAT(html, contains("<a href=\"#layer-3\">conv2_1</a>"));
  CHECK_THAT(html, contains("id=\"layer-3\""));
  CHECK_THAT(html, contains("image-rendering:pixelated"));
  CHECK_THAT(html, contains("max-width:100%"));
}

TEST_CASE("gallery: pages are self-contained", "[gallery]") {
  fmviz::GalleryPage page = sample_page();
  page.back_link = "../index.html";
  const std::string html = fmviz::render_gallery(page);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http:") == std::string::npos);
  CHECK(html.find("https:") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK_THAT(html, contains("<a href=\"../index.html\">"));
  CHECK(fmviz::render_gallery(sample_page()).find("../index.html") == std::string::npos);
}

TEST_CASE("gallery: hostile names are escaped and encoded", "[gallery]") {
  fmviz::GalleryPage page;
  page.title = "<script>alert('x')</script> & co";
  page.input_name = "my \"cat\" <1> & 'dog'.jpg";
  page.input_picture = "my cat #1/in put%.png";
  page.options = {{"<b>key</b>", "a & b \"c\""}};
  fmviz::GalleryLayer layer;
  layer.name = "conv<1>&\"";
  layer.picture = "Stra\xc3\x9f" "e/\"conv\" 1?.png";
  layer.note = "<i>note</i>";
  page.layers.push_back(layer);
  const std::string html = fmviz::render_gallery(page);

  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK_THAT(html, contains("<title>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</title>"));
  CHECK_THAT(html, contains("Input: my &quot;cat&quot; &lt;1&gt; &amp; &#39;dog&#39;.jpg"));
  CHECK_THAT(html, contains("src=\"my%20cat%20%231/in%20put%25.png\""));
  CHECK_THAT(html, contains("<th scope=\"row\">&lt;b&gt;key&lt;/b&gt;</th><td>a &amp; b &quot;c&quot;</td>"));
  CHECK_THAT(html, contains("<h2>conv&lt;1&gt;&amp;&quot;</h2>"));
  CHECK_THAT(html, contains("src=\"Stra%C3%9Fe/%22conv%22%201%3F.png\" alt=\"conv&lt;1&gt;&amp;&quot;\""));
  CHECK_THAT(html, contains("<p class=\"note\">&lt;i&gt;note&lt;/i&gt;</p>"));
}

TEST_CASE("gallery: figure sections show their facts and pictures side by side, escaped", "[gallery]") {
  fmviz::GalleryPage page;
  page.title = "t";
  fmviz::GallerySection section;
  section.heading = "Where it looks <maps>";
  section.facts = {{"class", "tabby & co (281)"}};
  section.note = "scaled";
  section.figures = {{"cam a.png", 224, 224, "Grad-CAM"}, {"cam_b.png", 0, 0, "Grad-CAM++ <b>"}};
  page.sections.push_back(section);
  page.options = {{"k", "v"}};
  const std::string html = fmviz::render_gallery(page);
  CHECK_THAT(html, contains("<h2>Where it looks &lt;maps&gt;</h2>"));
  CHECK_THAT(html, contains("<td>tabby &amp; co (281)</td>"));
  CHECK_THAT(html, contains("<figure><img src=\"cam%20a.png\" alt=\"Grad-CAM\" width=\"224\" height=\"224\"><figcaption>Grad-CAM</figcaption></figure>"));
  CHECK_THAT(html, contains("<figcaption>Grad-CAM++ &lt;b&gt;</figcaption>"));
  CHECK(html.find("Where it looks") < html.find("<h2>Options</h2>"));
}

TEST_CASE("gallery: picture sizes, missing pictures and empty facts", "[gallery]") {
  fmviz::GalleryPage page;
  page.title = "t";
  fmviz::GalleryLayer big, small, none;
  big.name = "big";
  big.picture = "big.png";
  big.width = 3614;
  big.height = 224;
  small.name = "small";
  small.picture = "small.png";
  small.width = 254;  // enlarged 3 times: 762 <= 960
  small.height = 14;
  none.name = "none";
  page.layers = {big, small, none};
  const std::string html = fmviz::render_gallery(page);
  CHECK_THAT(html, contains("src=\"big.png\" alt=\"big\" width=\"3614\" height=\"224\""));
  CHECK_THAT(html, contains("src=\"small.png\" alt=\"small\" width=\"762\" height=\"42\""));
  CHECK_THAT(html, contains("<p class=\"none\">no picture</p>"));
  CHECK_THAT(html, contains("<td>none</td>"));  // no channels
  CHECK(count_of(html, "<img ") == 2);
  CHECK(html.find("<section class=\"input\">") == std::string::npos);
  CHECK(html.find("<h2>Options</h2>") == std::string::npos);
  CHECK(fmviz::detail::gallery_scale(0) == 1);
  CHECK(fmviz::detail::gallery_scale(14) == 8);
  CHECK(fmviz::detail::gallery_scale(478) == 2);
  CHECK(fmviz::detail::gallery_scale(480) == 1);
}

TEST_CASE("gallery: the index page links every image's folder", "[gallery]") {
  const std::vector<fmviz::GalleryIndexEntry> entries = {
      {"cat.jpg", "cat", "cat/input.png"},
      {"my cat #2 & <co>.jpg", "my cat #2 & <co>", "my cat #2 & <co>/input.png"},
      {"no thumbnail", "plain/", ""},
  };
  const std::string html = fmviz::render_gallery_index("fmviz: 3 images", entries);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, contains("<title>fmviz: 3 images</title>"));
  CHECK_THAT(html, contains("<a href=\"cat/index.html\"><img src=\"cat/input.png\" alt=\"cat.jpg\">cat.jpg</a>"));
  CHECK_THAT(html, contains("<a href=\"my%20cat%20%232%20%26%20%3Cco%3E/index.html\">"
                            "<img src=\"my%20cat%20%232%20%26%20%3Cco%3E/input.png\" alt=\"my cat #2 &amp; &lt;co&gt;.jpg\">"));
  CHECK_THAT(html, contains("<a href=\"plain/index.html\">no thumbnail</a>"));
  CHECK(count_of(html, "<a href=") == 3);
  CHECK(count_of(html, "<img ") == 2);
  CHECK(html.find("<script") == std::string::npos);
}

TEST_CASE("gallery: written atomically", "[gallery]") {
  TempDir dir;
  const fmviz::GalleryPage page = sample_page();
  const std::string path = dir.file("index.html");
  fmviz::write_gallery(path, page);
  CHECK(read_text(path) == fmviz::render_gallery(page));

  const std::vector<fmviz::GalleryIndexEntry> entries = {{"a", "a", "a/input.png"}};
  const std::string index = dir.file("top.html");
  fmviz::write_gallery_index(index, "all", entries);
  CHECK(read_text(index) == fmviz::render_gallery_index("all", entries));

  // Overwriting replaces the whole file; no temporary file is left behind.
  fmviz::GalleryPage shorter;
  shorter.title = "short";
  fmviz::write_gallery(path, shorter);
  CHECK(read_text(path) == fmviz::render_gallery(shorter));
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
  }
  CHECK(files == 2);

  // A folder that does not exist: an fmviz::Error naming the file, and nothing written.
  const std::string bad = dir.file("missing/index.html");
  const auto error = error_of([&] { fmviz::write_gallery(bad, page); });
  REQUIRE(error);
  CHECK(error->path() == bad);
  CHECK_THAT(std::string(error->what()), contains("missing/index.html"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "missing"));
  CHECK(error_of([&] { fmviz::write_gallery_index(bad, "t", entries); }));
  CHECK(error_of([&] { fmviz::write_gallery("", page); }));
}
