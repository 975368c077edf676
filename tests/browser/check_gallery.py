#!/usr/bin/python3
"""The HTML gallery in a real browser: Debian's chromium, headless, driven over its DevTools pipe.

  check_gallery.py --demo PATH/fmviz_gallery_demo --chromium /usr/bin/chromium [--keep]

1. Makes a gallery: two image folders with awkward names (space, '#', '&', '<', '%', non-ASCII), each with an
   input picture and five grey grids made here with PIL; fmviz_gallery_demo (fmviz::write_gallery and
   fmviz::write_gallery_index) writes FOLDER/index.html for each and the top-level index.html.
2. Static check: every page is parsed (html.parser); every src and href, followed from the top index,
   must be a relative URL naming an existing file (or an anchor on the page); no scripts, no external links.
3. Browser check: each page is loaded in headless chromium (no network, a fresh profile); through the
   DevTools protocol on --remote-debugging-pipe the script reads every <img>'s complete and naturalWidth,
   every request the page made (only file: URLs, none failed), and a full-page screenshot, which must not
   be blank and must show each picture where the page placed it (compared with the PNG file itself).
   Pictures loaded lazily (loading="lazy", as an atlas page's thumbnails are) are made to load at once, and must
   say their width and height; pictures below the screenshot's 16000 pixels are checked as loaded only.
4. Self-check: a copy of the gallery with a missing grid, a corrupt grid and a blank grid, and a blank
   page, must each be reported, and a lazy picture far down without a size; a check that cannot fail fails the test.

  check_gallery.py --existing PAGE --chromium /usr/bin/chromium   checks a site made elsewhere (the fmviz command's
  gallery, an atlas site): steps 2 and 3 on every page reachable from PAGE.

Exit status 0 when all of this holds, 1 otherwise (also when chromium is not installed).
"""
import argparse
import base64
import fcntl
import html.parser
import io
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
]
FOLDERS = ["cat photo #1", "Stra\u00dfe & <Hund> 100%"]
# Grids as fmviz_gallery_demo names them: (name, tiles across, tiles down, tile size). The demo tells the
# page every size but the last one's.
GRIDS = [("conv1_1", 16, 1, 16), ("conv2_1", 16, 1, 8), ("conv3_1", 4, 4, 24), ("conv4_1", 16, 1, 42), ("conv5_3", 16, 1, 14)]
GAP = 2
VIEWPORT = (1200, 900)
TIMEOUT = 60.0  # seconds for any one browser step
MAX_MEAN_DIFFERENCE = 8.0  # mean |screenshot - picture| over a picture's area, 0-255


def log(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------------------------------------- pictures

def make_input(path, seed):
    rnd = random.Random(seed)
    img = Image.new("RGB", (160, 120))
    px = img.load()
    for y in range(120):
        for x in range(160):
            px[x, y] = (x * 255 // 159, y * 255 // 119, (x + y) * 255 // 278)
    for _ in range(6):  # a few solid blocks of distinct colours
        x0, y0 = rnd.randrange(0, 130), rnd.randrange(0, 90)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        for y in range(y0, y0 + 24):
            for x in range(x0, x0 + 24):
                px[x, y] = colour
    img.save(path)


def make_grid(path, across, down, tile, seed):
    """A grey grid like fmviz's: tiles of smooth patterns, white gaps."""
    rnd = random.Random(seed)
    width, height = across * tile + (across - 1) * GAP, down * tile + (down - 1) * GAP
    img = Image.new("L", (width, height), 255)
    px = img.load()
    for k in range(across * down):
        ox, oy = (k % across) * (tile + GAP), (k // across) * (tile + GAP)
        fx, fy, phase = rnd.uniform(0.5, 3), rnd.uniform(0.5, 3), rnd.uniform(0, 6)
        for y in range(tile):
            for x in range(tile):
                v = (fx * x / tile + fy * y / tile + phase / 6 + k / 7) % 1.0
                px[ox + x, oy + y] = int(20 + 200 * (v if v < 0.5 else 1 - v) * 2)
    img.save(path)


def make_gallery(root, demo):
    for n, folder in enumerate(FOLDERS):
        d = root / folder
        d.mkdir(parents=True)
        make_input(d / "input.png", 100 + n)
        for k, (name, across, down, tile) in enumerate(GRIDS):
            make_grid(d / (name + ".png"), across, down, tile, 10 * n + k)
    proc = subprocess.run([demo, str(root), *FOLDERS], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: {demo} exited with {proc.returncode}: {proc.stderr.strip()}")


# ------------------------------------------------------------------------------------------ static check

class PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs = []  # (tag, attribute, value)
        self.ids = set()
        self.forbidden = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag in ("script", "link", "iframe", "object", "embed", "base"):
            self.forbidden.append(tag)
        for attr in ("src", "href", "srcset", "poster", "data"):
            if attr in attrs:
                self.refs.append((tag, attr, attrs[attr] or ""))


def static_check(top):
    """Follows every reference from `top`; returns (problems, pages visited, pictures referenced)."""
    problems, pages, pictures = [], [], set()
    todo = [top.resolve()]
    while todo:
        page = todo.pop(0)
        if page in pages:
            continue
        pages.append(page)
        parser = PageParser()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag in parser.forbidden:
            problems.append(f"{page}: has a <{tag}> element")
        for tag, attr, value in parser.refs:
            url = urllib.parse.urlsplit(value)
            where = f"{page}: <{tag} {attr}=\"{value}\">"
            if url.scheme or url.netloc or value.startswith("/") or attr == "srcset":
                problems.append(f"{where}: not a relative URL to a file")
                continue
            if not url.path:
                if url.fragment not in parser.ids:
                    problems.append(f"{where}: no element has that id")
                continue
            target = (page.parent / urllib.parse.unquote(url.path)).resolve()
            if not target.is_file():
                problems.append(f"{where}: {target} does not exist")
            elif target.suffix == ".html":
                todo.append(target)
            else:
                pictures.add(target)
    return problems, pages, pictures


# ------------------------------------------------------------------------------------------ the browser

class Browser:
    """Headless chromium driven by the DevTools protocol over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, exe, workdir):
        self.profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
        self.log_path = workdir / "chromium.log"
        cmd_r, cmd_w = os.pipe()
        resp_r, resp_w = os.pipe()
        # Out of the way of 3 and 4 first, so that the child's dup2 calls cannot clobber each other.
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, resp_w))
        for fd in (cmd_r, resp_w):
            os.close(fd)
        self.cmd_w, self.resp_r = cmd_w, resp_r
        os.set_inheritable(cmd_w, False)
        os.set_inheritable(resp_r, False)

        def child_fds():  # chromium reads commands on fd 3 and writes replies to fd 4
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.log_file = open(self.log_path, "wb")
        args = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"]
        # close_fds=False: it would close 3 and 4 after child_fds; every other fd is close-on-exec (PEP 446).
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file,
                                     close_fds=False, preexec_fn=child_fds)
        os.close(child_in)
        os.close(child_out)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                self.call(domain + ".enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def fail(self, message):
        tail = self.log_path.read_bytes()[-3000:].decode("utf-8", "replace") if self.log_path.exists() else ""
        raise RuntimeError(f"{message}\n--- chromium's output (last lines) ---\n{tail}")

    def read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("chromium did not answer in time")
            ready, _, _ = select.select([self.resp_r], [], [], left)
            if ready:
                chunk = os.read(self.resp_r, 1 << 20)
                if not chunk:
                    self.fail(f"chromium closed its DevTools pipe (exit status {self.proc.poll()})")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=TIMEOUT):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.cmd_w, data):]
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    self.fail(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method and event.get("sessionId") == self.session:
                    return self.events.pop(i)
            event = self.read_message(deadline)
            if "method" in event:
                self.events.append(event)

    def load(self, page):
        """Loads `page`; returns its images' states, the requests it made and a full-page screenshot."""
        self.events.clear()
        result = self.call("Page.navigate", {"url": page.as_uri()})
        if result.get("errorText"):
            return {"error": result["errorText"]}
        self.wait_event("Page.loadEventFired")
        state = self.call("Runtime.evaluate", {"expression": PAGE_STATE_JS, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in state:
            self.fail(f"evaluating the page state: {state['exceptionDetails']}")
        state = state["result"]["value"]
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        state["page_width"] = int(size["width"])
        width, height = min(int(size["width"]), 4 * VIEWPORT[0]), min(int(size["height"]), 16000)
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        state["screenshot"] = Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
        requests, failed = {}, []
        for event in self.events:
            if event.get("sessionId") != self.session:
                continue
            if event["method"] == "Network.requestWillBeSent":
                requests[event["params"]["requestId"]] = event["params"]["request"]["url"]
            elif event["method"] == "Network.loadingFailed":
                failed.append(event["params"]["requestId"])
        state["requests"] = list(requests.values())
        state["failed"] = [requests.get(r, r) for r in failed]
        return state

    def close(self):
        if self.proc.poll() is None:
            try:
                self.session = None
                self.call("Browser.close", timeout=10)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self.cmd_w, self.resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log_file.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# Run in the page by the test (the page itself has no script): notes which pictures are loaded lazily (an atlas
# page's thousands of thumbnails are) and whether they say their size, makes them load now (far below the first
# screen a lazy picture would otherwise never load), waits for every picture to be decoded, then reports each one's
# state and place.
PAGE_STATE_JS = """
(async () => {
  const images = Array.from(document.images);
  const lazy = images.map(i => i.loading === "lazy");
  const sized = images.map(i => i.hasAttribute("width") && i.hasAttribute("height"));
  images.forEach(i => { if (i.loading === "lazy") i.loading = "eager"; });
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  return {
    title: document.title,
    text: document.body ? document.body.innerText : "",
    scripts: document.scripts.length,
    images: images.map((i, n) => {
      const r = i.getBoundingClientRect();
      return {src: i.currentSrc || i.src, complete: i.complete, naturalWidth: i.naturalWidth,
              naturalHeight: i.naturalHeight, x: r.left + window.scrollX, y: r.top + window.scrollY,
              width: r.width, height: r.height, lazy: lazy[n], sized: sized[n]};
    }),
  };
})()
"""


def file_of(url):
    parts = urllib.parse.urlsplit(url)
    return Path(urllib.request.url2pathname(parts.path)) if parts.scheme == "file" else None


def distinct_colours(img, limit=4096):
    colours = img.getcolors(maxcolors=limit)
    return limit if colours is None else len(colours)


def picture_difference(shot, info):
    """Mean |screenshot - picture| where the page shows it (best of +-1 pixel), or None if not comparable."""
    source = file_of(info["src"])
    try:
        picture = Image.open(source).convert("RGB")
    except Exception:
        return None
    w, h = round(info["width"]), round(info["height"])
    if w < 4 or h < 4:
        return None
    expected = picture.resize((w, h), Image.NEAREST)
    best = None
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            x, y = round(info["x"]) + dx, round(info["y"]) + dy
            crop = shot.crop((x, y, x + w, y + h))
            diff = sum(ImageStat.Stat(ImageChops.difference(crop, expected)).mean) / 3
            best = diff if best is None else min(best, diff)
    return best


def browser_check(browser, page, expect_images=None, expect_title=None, expect_text=()):
    """The problems chromium shows with `page`: pictures not loaded, requests off the disk or failed, a blank
    or wrong rendering, a title or text (as the page shows it, after HTML-escaping) that is not the expected."""
    state = browser.load(page)
    if "error" in state:
        return [f"{page}: chromium cannot load it: {state['error']}"], state
    problems = []
    where = page.name if page.parent.name == "" else f"{page.parent.name}/{page.name}"
    if state["scripts"]:
        problems.append(f"{where}: has {state['scripts']} scripts")
    if expect_title is not None and state["title"] != expect_title:
        problems.append(f"{where}: title {state['title']!r}, expected {expect_title!r}")
    for text in expect_text:
        if text not in state["text"]:
            problems.append(f"{where}: does not show {text!r}")
    if expect_images is not None and len(state["images"]) != expect_images:
        problems.append(f"{where}: {len(state['images'])} images, expected {expect_images}")
    for url in state["requests"]:
        if not url.startswith(("file:", "data:")):
            problems.append(f"{where}: requested {url}")
    for url in state["failed"]:
        problems.append(f"{where}: loading {url} failed")
    if state["page_width"] > VIEWPORT[0]:  # something that should wrap does not (a long row of links, say)
        problems.append(f"{where}: the page is {state['page_width']} px wide, wider than the {VIEWPORT[0]} px window")
    shot = state["screenshot"]
    if distinct_colours(shot) < 16:
        problems.append(f"{where}: the screenshot is blank ({distinct_colours(shot)} colours)")
    below = 0
    for info in state["images"]:
        name = urllib.parse.unquote(info["src"].rsplit("/", 1)[-1])
        if info.get("lazy") and not info.get("sized"):  # it would move the page about as it loads
            problems.append(f"{where}: image {name} is loaded lazily but has no width and height")
        if not info["complete"] or info["naturalWidth"] == 0:
            problems.append(f"{where}: image {name} did not load (complete={info['complete']}, "
                            f"naturalWidth={info['naturalWidth']})")
            continue
        if info["y"] + info["height"] > shot.height:  # past the screenshot's 16000 pixels: loaded is all we know
            below += 1
            continue
        region = shot.crop((round(info["x"]), round(info["y"]), round(info["x"] + info["width"]), round(info["y"] + info["height"])))
        if region.width < 4 or region.height < 4:
            problems.append(f"{where}: image {name} is shown {info['width']}x{info['height']}")
            continue
        spread = max(hi - lo for lo, hi in region.getextrema())
        if distinct_colours(region) < 4 or spread < 32:
            problems.append(f"{where}: image {name} is shown as a uniform area ({distinct_colours(region)} colours)")
            continue
        diff = picture_difference(shot, info)
        if diff is None or diff > MAX_MEAN_DIFFERENCE:
            problems.append(f"{where}: image {name} is not what the screenshot shows (mean difference {diff})")
    state["below"] = below
    return problems, state


# --------------------------------------------------------------------------------------------- the test

class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, ok, message):
        log(("ok    " if ok else "FAIL  ") + message)
        if not ok:
            self.failures.append(message)


def contains(problems, *fragments):
    return any(all(f in p for f in fragments) for p in problems)


def run(args, work):
    checks = Checks()
    start = time.monotonic()
    root = work / "gallery"
    make_gallery(root, args.demo)
    top = root / "index.html"

    problems, pages, pictures = static_check(top)
    for p in problems:
        log("      " + p)
    checks.expect(not problems, f"static: every reference from index.html resolves ({len(pages)} pages, {len(pictures)} pictures)")
    checks.expect(len(pages) == 1 + len(FOLDERS), f"static: the index links {len(FOLDERS)} pages")
    checks.expect(len(pictures) == len(FOLDERS) * (1 + len(GRIDS)), "static: every input and grid is referenced")

    browser = Browser(args.chromium, work)
    try:
        log(f"      chromium started ({time.monotonic() - start:.1f}s)")
        # The pages fmviz_gallery_demo writes, whether or not the static check found them, with what they show.
        expected = [(top, len(FOLDERS), f"fmviz: {len(FOLDERS)} images", FOLDERS)]
        for folder in FOLDERS:
            text = [f"Input: {folder}.jpg", "vgg16 & <friends>.safetensors", "0-15 (16 shown)"]
            text += [name for name, *_ in GRIDS] + ["64 \u00d7 224 \u00d7 224", "512 \u00d7 14 \u00d7 14"]
            expected.append((root / folder / "index.html", 1 + len(GRIDS), f"fmviz: {folder}", text))
        for n, (page, images, title, text) in enumerate(expected):
            problems, state = browser_check(browser, page, images, title, text)
            for p in problems:
                log("      " + p)
            if "screenshot" in state:
                state["screenshot"].save(work / f"screenshot-{n}.png")
            checks.expect(not problems, f"browser: {page.relative_to(root)}: {len(state.get('images', []))} images "
                          f"loaded and shown, {len(state.get('requests', []))} requests, title and text as expected")

        # Self-check on broken copies: each fault must be reported.
        broken = work / "broken"
        shutil.copytree(root, broken)
        first, second = broken / FOLDERS[0], broken / FOLDERS[1]
        (first / "conv3_1.png").unlink()  # missing
        (second / "conv2_1.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a picture")  # corrupt
        size = Image.open(second / "conv4_1.png").size
        Image.new("L", size, 128).save(second / "conv4_1.png")  # loads, but blank
        problems, _, _ = static_check(broken / "index.html")
        checks.expect(contains(problems, "conv3_1.png", "does not exist") and len(problems) == 1,
                      f"self-check: the static check reports the missing picture: {problems}")
        problems, _ = browser_check(browser, first / "index.html")
        checks.expect(contains(problems, "image conv3_1.png did not load"), "self-check: chromium reports the missing picture")
        checks.expect(contains(problems, "conv3_1.png failed"), "self-check: chromium reports the failed request")
        problems, _ = browser_check(browser, second / "index.html")
        checks.expect(contains(problems, "image conv2_1.png did not load"), "self-check: chromium reports the corrupt picture")
        checks.expect(contains(problems, "image conv4_1.png is shown as a uniform area"),
                      "self-check: the screenshot check reports the blank picture")
        checks.expect(len(problems) == 2, f"self-check: nothing else is reported on that page: {problems}")
        blank = work / "blank.html"
        blank.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>\n")
        problems, _ = browser_check(browser, blank)
        checks.expect(contains(problems, "the screenshot is blank"), "self-check: a blank page is reported")
        # A lazily loaded picture far below the first screen is loaded all the same, and one without a size is reported.
        far = broken / "lazy.html"
        far.write_text("<!DOCTYPE html><html><head><title>lazy</title></head><body><div style=\"height:30000px\"></div>"
                       f"<img loading=\"lazy\" src=\"{urllib.parse.quote(FOLDERS[1])}/conv1_1.png\" alt=\"far down\"></body></html>\n")
        problems, _ = browser_check(browser, far)
        checks.expect(contains(problems, "conv1_1.png is loaded lazily but has no width and height")
                      and not contains(problems, "did not load"),
                      f"self-check: a lazy picture far down loads, and its missing size is reported: {problems}")
    finally:
        browser.close()
    log(f"      {time.monotonic() - start:.1f}s")
    return checks.failures


def check_existing(args, work):
    """A gallery made elsewhere (the fmviz command's): every page reachable from its index.html loads in
    chromium with every picture shown."""
    checks = Checks()
    top = Path(args.existing).resolve()
    problems, pages, pictures = static_check(top)
    for p in problems:
        log("      " + p)
    checks.expect(not problems and pictures, f"static: every reference from {top.name} resolves ({len(pages)} pages, "
                  f"{len(pictures)} pictures)")
    browser = Browser(args.chromium, work)
    try:
        for n, page in enumerate(sorted(pages)):
            problems, state = browser_check(browser, page)
            for p in problems:
                log("      " + p)
            if "screenshot" in state:
                state["screenshot"].save(work / f"screenshot-{n}.png")
            shown = len(state.get("images", []))
            below = state.get("below", 0)
            checks.expect(not problems and (shown > 0 or page == top),
                          f"browser: {page.relative_to(top.parent)}: {shown} images loaded and shown"
                          + (f" ({below} below the screenshot: loaded, not compared)" if below else ""))
    finally:
        browser.close()
    return checks.failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", help="the fmviz_gallery_demo executable: build a gallery with it and check it")
    parser.add_argument("--existing", metavar="INDEX_HTML", help="check this gallery instead (e.g. one the fmviz command wrote)")
    parser.add_argument("--chromium", default="", help="the chromium executable (Debian: /usr/bin/chromium)")
    parser.add_argument("--keep", action="store_true", help="keep the gallery, the screenshots and chromium's log")
    args = parser.parse_args()
    if bool(args.demo) == bool(args.existing):
        parser.error("give one of --demo and --existing")
    if not args.chromium or not os.access(args.chromium, os.X_OK):
        log(f"FAIL: chromium not found{' at ' + args.chromium if args.chromium else ''}: the gallery's browser "
            "test needs Debian's chromium (apt-get install chromium); configure with -DFMVIZ_BROWSER_TESTS=OFF "
            "to leave this test out")
        return 1
    work = Path(tempfile.mkdtemp(prefix="fmviz-gallery-"))
    failures = ["did not finish"]
    try:
        failures = check_existing(args, work) if args.existing else run(args, work)
    except Exception as e:  # one clear line instead of a traceback from deep inside the protocol
        log(f"FAIL  {type(e).__name__}: {e}")
    finally:
        if failures or args.keep:
            log(f"      kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        log(f"{len(failures)} checks failed")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
