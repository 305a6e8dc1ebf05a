"""The landscape timeline: dated, sourced, cut off at one date, drawn with one marker per event."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from course_utils import landscape  # noqa: E402


def test_every_event_is_dated_sourced_and_before_the_cutoff():
    assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", landscape.CUTOFF)
    months = [e.month for e in landscape.EVENTS]
    assert months == sorted(months), "events must be in release order"
    for e in landscape.EVENTS:
        assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", e.month), e
        assert e.month <= landscape.CUTOFF, e
        assert e.arch in landscape.ARCHS, e
        assert e.source.strip() and e.org.strip(), e


def test_the_outline_s_milestones_are_there():
    names = {e.name for e in landscape.EVENTS}
    for must in ("GPT-1", "GPT-2", "GPT-3", "InstructGPT", "ChatGPT", "DeepSeek-V3", "DeepSeek-R1"):
        assert must in names
    assert any(e.arch == "moe" for e in landscape.EVENTS)
    assert any(e.china for e in landscape.EVENTS)
    closed = {e.name for e in landscape.EVENTS if e.arch == "undisclosed"}
    assert {"ChatGPT", "GPT-4"} <= closed  # never guessed


def test_year_is_mid_month():
    e = landscape.Event("2020-05", "x", "y", "dense", False, "s")
    assert e.year == pytest.approx(2020 + 4.5 / 12)
    assert landscape.Event("2020-01", "x", "y", "dense", False, "s").year < 2020.1


def test_events_filter_by_date_and_architecture():
    upto = landscape.events(until="2020-12")
    assert [e.name for e in upto][-1] == "GPT-3"
    assert all(e.month <= "2020-12" for e in upto)
    moe = landscape.events(archs=("moe",))
    assert moe and all(e.arch == "moe" for e in moe)
    with pytest.raises(ValueError, match="arch"):
        landscape.events(archs=("sparse",))


def test_figure_has_one_marker_per_event():
    fig = landscape.timeline_figure(until="2022-11")
    ax = fig.axes[0]
    n = len(landscape.events(until="2022-11"))
    points = [
        c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) == 1
    ]
    assert len(points) == n
    assert "2022-11" in ax.get_xlabel()
    plt.close(fig)
