"""``index.html`` in a real browser: a tiny comparison (a MuZero of a few seconds and three
rule agents) opened by headless chromium; every figure decodes and every section is there.

Skips, saying why, where no chromium is installed (``make browser`` installs Debian's).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import lobzero
import pytest
from lobzero.evaluation.compare import CompareConfig, CompareResult, compare
from lobzero.evaluation.report_page import MODEL_SECTION, SECTIONS

from tests.evaluation.test_compare import TINY_MUZERO as COMPARE_TINY_MUZERO

BROWSERS = ("chromium", "chromium-browser", "google-chrome")

#: test_compare.py's MuZero that trains in a few seconds, with a shorter warm-up for its
#: 64-step budget
TINY_MUZERO = {**COMPARE_TINY_MUZERO, "warmup_steps": 16, "log_interval": 16}


def browser() -> str:
    """The headless browser's executable; skips the test when there is none."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium to open the report in (make browser: apt-get install -y chromium)")


def open_page(page: Path, *extra: str) -> str:
    """The DOM of ``page`` after its load event and scripts, as chromium serialises it."""
    args = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    done = subprocess.run(
        [*args, *extra, "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def loaded(dom: str) -> tuple[int, int]:
    """(figures decoded, figures on the page), as the page's own script counted them."""
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    ok = re.search(r'data-images-loaded="(\d+)"', body.group(0))
    assert total and ok, f"the page's script did not run: {body.group(0)}"
    return int(ok.group(1)), int(total.group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[CompareResult, Path]:
    browser()  # skip before training when there is nothing to open the page with
    out = tmp_path_factory.mktemp("report")
    market = lobzero.synth_market(seconds=180, seed=5, signal_strength=1.0)
    config = CompareConfig(
        env=lobzero.EnvConfig(max_position=0.1, episode_steps=40),
        validation_episodes=1,
        test_episodes=2,
        bootstrap_resamples=100,
        muzero=TINY_MUZERO,
    )
    agents = "muzero,imbalance,random,flat"
    return compare(market, agents, 1, 64, out, config=config), out


def test_every_figure_loads_and_every_section_is_there(
    report: tuple[CompareResult, Path], tmp_path: Path
) -> None:
    result, out = report
    page = out / "index.html"
    text = page.read_text()
    figures = [k for k in result.files if k not in ("csv", "json", "html")]
    for key in ("validation", "trainlog_muzero", "model_muzero", "timeline", "returns"):
        assert key in figures
    assert {f"episode_{a}" for a in result.agents} <= set(figures)
    # self-contained: every figure inline, byte for byte the PNG beside the page
    sources = re.findall(
        r'<img src="data:image/png;base64,([^"]+)" alt="[^"]*" data-file="([^"]+)"', text
    )
    assert sorted(name for _, name in sources) == sorted(result.files[k].name for k in figures)
    for data, name in sources:
        assert base64.b64decode(data) == (out / name).read_bytes()
    assert 'src="' not in re.sub(r'src="data:image/png;base64,[^"]+"', "", text)

    dom = open_page(page)
    assert loaded(dom) == (len(figures), len(figures))
    headings = re.findall(r"<h2>(.*?)</h2>", dom)
    assert headings == [*SECTIONS, MODEL_SECTION]
    assert 'class="warn"' not in dom
    # the round trips of the best trader, and what training cost
    # (flat never closes one, so it is never the best trader)
    assert re.search(r"(muzero|imbalance|random): the highest mean test sharpe", dom)
    assert "<td>muzero</td><td>1</td><td>64</td>" in dom

    shot = tmp_path / "report.png"
    open_page(page, "--window-size=1280,4000", f"--screenshot={shot}")
    assert shot.stat().st_size > 50_000


def test_a_broken_figure_is_reported_by_the_page(
    report: tuple[CompareResult, Path], tmp_path: Path
) -> None:
    """The check can fail: a figure whose PNG is cut short does not decode, and the page
    counts it and says which."""
    _, out = report
    text = (out / "index.html").read_text()
    start = text.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
    broken = text[:start] + "AAAA" + text[start + 400 :]
    (tmp_path / "index.html").write_text(broken)
    ok, total = loaded(open_page(tmp_path / "index.html"))
    assert (ok, total) == (total - 1, text.count("<img "))
    assert '<p class="warn">1 figure(s) did not load: ' in open_page(tmp_path / "index.html")
