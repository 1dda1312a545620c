"""``lobzero paper --faults``: the grammar (probabilities and mean intervals, the stall's
length, errors naming the bad part) and a run with every fault on whose decisions equal a
fault-free run's, through the code the soak uses (``with_faults``)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from lobzero.cli import main
from lobzero.data.synth import synth_market
from lobzero.exceptions import ConfigError
from lobzero.live.faults import parse_faults

from .helpers import replayed_rows


def test_the_grammar_reads_probabilities_intervals_and_the_stall_length() -> None:
    spec = "stall:1h/45s,gap:0.01,disconnect:1h,duplicate:0.001,reorder:0.001,crash:6h"
    c = parse_faults(spec, batch_s=0.05, decision_s=0.5)
    assert (c.drop, c.duplicate, c.reorder) == (0.01, 0.001, 0.001)
    assert c.stall_s == 45.0
    assert math.isclose(c.stall, 1 - math.exp(-0.05 / 3600))
    assert math.isclose(c.disconnect, 1 - math.exp(-0.05 / 3600))
    assert math.isclose(c.broker_crash, 1 - math.exp(-0.5 / 6 / 3600))  # per decision
    assert c.agent_crash == 0.0
    assert parse_faults("agent-crash:2m", 1.0, 1.0).agent_crash == pytest.approx(1 / 120, 1e-2)
    assert parse_faults("", 1.0, 1.0) == parse_faults("gap:0", 1.0, 1.0)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("gap:0.01,bogus:0.1", "'bogus:0.1'"),
        ("gap:2", "'gap:2'"),
        ("gap", "'gap'"),
        ("stall:1h/soon", "soon"),
        ("disconnect:0.01s", "'disconnect:0.01s'"),
        ("gap:0.1,gap:0.2", "given twice"),
        ("crash:-1", "'crash:-1'"),
    ],
)
def test_a_bad_part_is_named(spec: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        parse_faults(spec, batch_s=0.05, decision_s=0.5)


def test_paper_with_faults_decides_as_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, s in enumerate(("AAA", "BBB")):
        synth_market(symbol=s, seconds=40, seed=i).save(tmp_path / f"{s}.parquet")
    feed = f"replay:{tmp_path / 'AAA.parquet'},{tmp_path / 'BBB.parquet'}"
    base = ["paper", "--agent", "rule:imbalance", "--feed", feed, "--json-log",
            "--latency-ms", "25"]  # fmt: skip
    assert main([*base, "--db", str(tmp_path / "clean.sqlite")]) == 0
    capsys.readouterr()
    spec = (
        "stall:20s/3s,gap:0.02,disconnect:5s,duplicate:0.02,reorder:0.02,crash:10s,agent-crash:2s"
    )
    assert main([*base, "--db", str(tmp_path / "faulty.sqlite"), "--faults", spec]) == 0
    err = capsys.readouterr().err
    pattern = (
        r"faults injected: (\d+) gaps, (\d+) duplicates, (\d+) reordered, (\d+) stalls, "
        r"(\d+) disconnects, (\d+) broker crashes, (\d+) agent crashes"
    )
    m = re.search(pattern, err)
    assert m is not None, err
    assert all(int(n) > 0 for n in m.groups()), m.group(0)
    clean, faulty = (
        replayed_rows(tmp_path / "clean.sqlite"),
        replayed_rows(tmp_path / "faulty.sqlite"),
    )
    assert len(clean) > 300 and faulty == clean


def test_a_bad_faults_spec_is_reported_before_the_feed_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad ``--faults`` is the first error, before the feed's files are loaded (a missing
    file, an empty feed) or a live feed connects; a good one still meets the missing file."""
    missing = tmp_path / "missing.parquet"
    for feed in (f"replay:{missing}", "replay:"):
        args = ["paper", "--agent", "rule:flat", "--feed", feed, "--db", str(tmp_path / "p")]
        assert main([*args, "--faults", "gap:x"]) == 2
        err = capsys.readouterr().err
        assert "--faults part 'gap:x'" in err and "missing.parquet" not in err
        assert main([*args, "--faults", "gap:0.1"]) == 2
        assert ("missing.parquet" if "missing" in feed else "replay: needs") in (
            capsys.readouterr().err
        )
    # a binance feed refuses --faults before it connects (nothing listens at port 9)
    assert (
        main(
            [
                "paper",
                "--agent",
                "rule:flat",
                "--feed",
                "binance:BTCUSDT",
                "--rest-url",
                "http://127.0.0.1:9",
                "--db",
                str(tmp_path / "b"),
                "--faults",
                "gap:0.1",
            ]
        )
        == 2
    )
    assert "--faults wraps replay feeds" in capsys.readouterr().err
