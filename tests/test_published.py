"""The published book: chapters current with their sources, results files, HTML build, browser check."""

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from fasttrain import book
from fasttrain.core.results import load

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = book.chapters()
ARTIFACTS = ROOT / "test-artifacts"


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]


def _markdown_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def test_there_are_chapters():
    assert "01" in CHAPTERS


@pytest.mark.parametrize("ch", sorted(CHAPTERS))
def test_published_chapter_is_generated_from_current_source(ch):
    src = CHAPTERS[ch]
    pub = ROOT / "book" / src.name
    assert pub.exists(), f"{pub} missing: run `make chapter CH={ch}`"
    assert _code_cells(pub) == _code_cells(src), (
        f"{pub.name} in book/ is stale: its code differs from notebooks/{src.name}; run `make chapter CH={ch}`"
    )
    assert _markdown_cells(pub) == _markdown_cells(src), (
        f"{pub.name}: the narrative differs from notebooks/{src.name}; run `make prose CH={ch}`"
    )
    nb = nbformat.read(pub, as_version=4)
    assert not any(
        o.get("output_type") == "error"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


@pytest.mark.parametrize("ch", sorted(CHAPTERS))
def test_published_results_file(ch):
    src = CHAPTERS[ch]
    res = load(ROOT / "book" / "results" / (src.stem + ".json"))
    assert res["chapter"] == ch
    assert res["scale"] == "book", "the published book is executed at scale 'book'"
    assert res["claims"], "a chapter states at least one claim"
    for key in ("cpu", "cores"):
        assert res["machine"][key]


@pytest.mark.parametrize("ch", sorted(CHAPTERS))
def test_source_notebook_is_a_smoke_fixture(ch):
    src = CHAPTERS[ch]
    assert book.notebook_parameters(src)["scale"] == "smoke"
    nb = nbformat.read(src, as_version=4)
    checked = [c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, "some cells must pin rounded claim values (# NBVAL_CHECK_OUTPUT)"
    assert all(c.outputs for c in checked), (
        f"{src.name} lacks stored outputs: run `make fixtures CH={ch}`"
    )
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert not (o.get("output_type") == "stream" and o.get("name") == "stderr"), (
                f"stderr noise stored in {src.name}"
            )


@functools.lru_cache(maxsize=1)
def _build_html(tmp_root: str) -> Path:
    out = Path(tmp_root)
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(exe), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"jupyter-book build failed (warnings are errors):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    )
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def html(tmp_path_factory):
    return _build_html(str(tmp_path_factory.mktemp("jb")))


@pytest.mark.slow
def test_html_book_has_every_chapter_with_figures_and_claims(html):
    for ch, src in CHAPTERS.items():
        page = html / "book" / (src.stem + ".html")
        assert page.exists(), f"no page for chapter {ch}"
        text = page.read_text(encoding="utf-8")
        imgs = re.findall(r'<img[^>]+src="([^"]+)"', text)
        assert len(imgs) >= 2, f"chapter {ch} shows fewer than two figures"
        for src_attr in imgs:
            if not src_attr.startswith(("http", "data:")):
                assert (page.parent / src_attr).exists(), f"broken image {src_attr} in chapter {ch}"
        assert "verdict" in text and re.search(r"reproduced|partly|not testable here", text)
        # the chapter is downloadable as a notebook
        assert (html / "_sources" / "book" / src.name).exists()
    summary = (html / "book" / "summary.html").read_text(encoding="utf-8")
    for ch in CHAPTERS:
        assert f"Chapter {ch}" in summary
    # no "Fig. 29" on the summary: Sphinx's figure numbers run across the book, so they are off
    # (the chapters number their own captions); the claims tables keep their "kind" column whole
    assert 'class="caption-number"' not in summary
    assert len(re.findall(r'<table class="[^"]*\bclaims-table\b', summary)) == len(CHAPTERS)
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists(), (
        "MathJax must be served with the book"
    )


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: what a reader must not meet on a chapter page: code cells or tables that scroll sideways, figures
#: without a caption, the notebook's parameters cells
LAYOUT_CHECK = """
const main = document.querySelector('main') || document.body;
const wide = el => el.scrollWidth > el.clientWidth + 1;
const name = el => (el.className || el.tagName) + ': ' + (el.innerText || '').slice(0, 60);
const overflow = Array.from(main.querySelectorAll('div.cell_input pre, div.cell_output pre, table'))
  .filter(el => el.offsetParent !== null && wide(el.tagName === 'TABLE'
    ? (el.closest('.pst-scrollable-table-container, .table-wrapper') || el.parentElement) : el))
  .map(name);
const uncaptioned = Array.from(main.querySelectorAll('img'))
  .filter(img => { const f = img.closest('figure'); return !f || !f.querySelector('figcaption'); })
  .map(img => img.getAttribute('src'));
const parameters = Array.from(main.querySelectorAll(
  '.tag_parameters, .tag_injected-parameters .cell_input')).filter(el => el.offsetParent !== null).length;
return {overflow: overflow, uncaptioned: uncaptioned, parameters: parameters};
"""

#: the summary's claims tables: "kind" cells (paper, book-goal, analysis) laid out on more lines than
#: they have words (a hyphen may end a line) were broken inside a word ("pap er")
KIND_CHECK = """
const lines = node => { const r = document.createRange(); r.selectNodeContents(node);
  return new Set(Array.from(r.getClientRects()).filter(x => x.width > 0).map(x => Math.round(x.top))).size; };
const cells = Array.from(document.querySelectorAll('table.claims-table td:nth-child(2)'));
if (!cells.length) return ['no claims tables'];
return cells.filter(td => {
  const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const words = n.data.trim().split(/[\\s-]+/).filter(w => w).length;
    if (words && lines(n) > words) return true;
  }
  return false;
}).map(td => td.innerText);
"""


@pytest.mark.slow
def test_browser_renders_chapters_images_and_math(html):
    chromium, driver = _chromium(), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip(
            "Chromium/chromedriver not installed (Debian packages chromium, chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,2000",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for ch, src in CHAPTERS.items():
            drv.get(f"{base}/book/{src.stem}.html")
            drv.set_script_timeout(30)
            state = drv.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const t0 = Date.now();
                (function wait() {
                  const imgs = Array.from(document.images);
                  const loaded = imgs.every(i => i.complete);
                  const math = document.querySelectorAll('mjx-container').length;
                  if ((loaded && math > 0) || Date.now() - t0 > 20000) {
                    done({n: imgs.length, broken: imgs.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src),
                          math: math, raw: document.querySelectorAll('.math').length, title: document.title});
                  } else { setTimeout(wait, 200); }
                })();
            """)
            assert state["n"] >= 2 and not state["broken"], (
                f"chapter {ch}: broken images {state['broken']}"
            )
            assert state["math"] > 0, (
                f"chapter {ch}: math not typeset ({state['raw']} raw math elements)"
            )
            layout = drv.execute_script(LAYOUT_CHECK)
            assert not layout["overflow"], (
                f"chapter {ch}: code or tables wider than the page: {layout['overflow'][:5]}"
            )
            assert not layout["uncaptioned"], (
                f"chapter {ch}: figures without a caption: {layout['uncaptioned'][:5]}"
            )
            assert not layout["parameters"], f"chapter {ch}: a parameters cell's code is visible"
            ARTIFACTS.mkdir(exist_ok=True)
            drv.save_screenshot(str(ARTIFACTS / f"chapter-{ch}.png"))
        drv.get(f"{base}/book/summary.html")
        ARTIFACTS.mkdir(exist_ok=True)
        drv.save_screenshot(str(ARTIFACTS / "summary.png"))
        for width in (1400, 400):  # wide, and a phone's width
            drv.set_window_size(width, 2000)
            drv.get(f"{base}/book/summary.html")
            split = drv.execute_script(KIND_CHECK)
            assert not split, (
                f"summary at {width}px: the claims tables break 'kind' inside a word: {split[:5]}"
            )
    finally:
        drv.quit()
        server.shutdown()


def test_every_chapter_is_in_the_table_of_contents():
    """A new chapter is registered in _toc.yml (the one list the runner cannot derive)."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"file:\s*book/(\d\d)-", toc))
    assert listed == set(CHAPTERS), (
        f"_toc.yml lists chapters {sorted(listed)}, notebooks/ has {sorted(CHAPTERS)}"
    )
