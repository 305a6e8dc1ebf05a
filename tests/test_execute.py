"""The executor saves clean, timed notebooks; the course's bars are live, summarised or off."""

import io
import os

import nbformat
import pytest

from course_utils.tools import execute, hygiene, progress, timing


def test_screen_text_keeps_what_a_terminal_shows():
    assert execute.screen_text("a:  10%\ra:  50%\ra: 100%\n") == "a: 100%\n"
    assert execute.screen_text("x\r\ny\n") == "x\ny\n"
    assert execute.screen_text("abc\x08\x08d\n") == "ad\n"
    assert execute.screen_text("bar 1/2\r") == ""  # a bar that cleared itself


def test_tidy_outputs_joins_streams_and_drops_blank_stderr():
    def stream(name, text):
        return nbformat.v4.new_output("stream", name=name, text=text)

    image = nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "fig"})
    outs = [
        stream("stdout", "a\n"),
        stream("stdout", "b\n"),
        stream("stderr", "\rt:  5%"),
        stream("stderr", "\rt: 100%\n"),
        stream("stderr", "\n"),
        image,
        stream("stdout", "c\n"),
        stream("stderr", "  \n"),
    ]
    tidy = execute.tidy_outputs(outs)
    assert [(o["output_type"], o.get("name"), o.get("text")) for o in tidy] == [
        ("stream", "stdout", "a\nb\n"),
        ("stream", "stderr", "t: 100%\n\n"),
        ("display_data", None, None),
        ("stream", "stdout", "c\n"),
    ]


def _bar_output(mode, monkeypatch, **kwargs):
    monkeypatch.delenv("COURSE_NO_PROGRESS", raising=False)
    monkeypatch.setenv("COURSE_PROGRESS", mode)
    buf = io.StringIO()
    bar = progress.progress(range(40), desc="train", file=buf, mininterval=0, **kwargs)
    for _ in bar:
        bar.set_postfix_str("loss=1.5")
    bar.close()
    return buf.getvalue()


def test_live_bars_redraw_in_place(monkeypatch):
    assert _bar_output("live", monkeypatch).count("\r") > 5


def test_summary_bars_write_one_line(monkeypatch):
    text = _bar_output("summary", monkeypatch)
    assert "\r" not in text and text.count("\n") == 1
    assert text.startswith("train: 40/40 it in 00:00 (") and text.endswith(" it/s), loss=1.5\n")
    assert _bar_output("summary", monkeypatch, leave=False) == ""  # a transient bar says nothing


def test_bars_off(monkeypatch):
    assert _bar_output("off", monkeypatch) == ""
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")
    assert progress.progress_mode() == "off"


def test_unknown_mode_is_named(monkeypatch):
    monkeypatch.delenv("COURSE_NO_PROGRESS", raising=False)
    monkeypatch.setenv("COURSE_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="COURSE_PROGRESS must be one of .* got 'fancy'"):
        progress.progress_mode()


def test_status_only_when_live(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_NO_PROGRESS", raising=False)
    for mode in ("live", "summary", "off"):
        monkeypatch.setenv("COURSE_PROGRESS", mode)
        progress.status(f"[cache] {mode}")
    assert capsys.readouterr().err == "[cache] live\n"


NOISY_CELLS = [
    # the course's bar, with log lines between its updates
    "from course_utils.tools.progress import progress\n"
    "bar = progress(range(30), desc='train', mininterval=0)\n"
    "for i in bar:\n"
    "    if i % 10 == 0:\n"
    "        print(f'step {i}')\n",
    # another library's tqdm bar
    "from tqdm.auto import tqdm\nfor _ in tqdm(range(30), mininterval=0):\n    pass\n",
    # the PyTorch profiler
    "import torch\nfrom torch.profiler import profile, ProfilerActivity\n"
    "with profile(activities=[ProfilerActivity.CPU]):\n    torch.ones(4) @ torch.ones(4)\n"
    "print('profiled')\n",
]


def test_executed_notebook_is_clean_and_timed(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")  # the executor must lift it for its kernel
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOISY_CELLS])
    path = tmp_path / "noisy.ipynb"
    nbformat.write(nb, path)
    execute.execute_notebook(path, profile="quick", timeout=300)
    saved = nbformat.read(path, as_version=4)  # stream text joined back into one string
    assert hygiene.problems(hygiene.notebook_stats(path)) == []
    first = saved["cells"][0]["outputs"]
    assert [o["name"] for o in first] == ["stdout", "stderr"]
    assert first[0]["text"] == "step 0\nstep 10\nstep 20\n"
    assert first[1]["text"].startswith("train: 30/30 it in ")
    assert saved["cells"][1]["outputs"] == []  # other libraries' bars are off
    assert [o["text"] for o in saved["cells"][2]["outputs"]] == ["profiled\n"]
    assert saved["metadata"]["kernelspec"]["name"] == "python3"
    assert saved.metadata["course"] == {"profile": "quick"}
    t = timing.notebook_timing(path)
    assert t.untimed_cells == 0 and t.seconds > 0
    assert os.environ["COURSE_NO_PROGRESS"] == "1"  # restored after the run
