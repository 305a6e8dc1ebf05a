"""The chat page in a real browser: headless Chromium from Debian's packages, driven through the
DevTools protocol (CDP), with no browser-automation library.

    make test-browser     # = COURSE_BROWSER_TEST=1 python -m pytest -q tests/browser

It is skipped in ``python -m pytest tests`` (starting a browser takes seconds); the variable
``COURSE_BROWSER_TEST=1`` runs it. The test serves a tiny assistant trained by the fixtures of
tests/conftest.py, opens the page, types two messages as a user does (the second needs the
first turn, so the page must send the conversation), watches each answer arrive token by token,
checks that the page asked nothing of any other server, and saves a screenshot to
``.cache/browser/chat.png``.

Chromium speaks CDP over a pipe (``--remote-debugging-pipe``): JSON messages ended by a NUL
byte, written to its file descriptor 3 and read from its descriptor 4. That needs only the
standard library.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from course_utils.serve import start_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".cache" / "browser" / "chat.png"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",  # Chromium's sandbox refuses to run as root (Docker, AutoDL)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
]

pytestmark = pytest.mark.skipif(
    os.environ.get("COURSE_BROWSER_TEST") != "1",
    reason="the browser test: make test-browser (COURSE_BROWSER_TEST=1)",
)


class Chromium:
    """A headless Chromium and its DevTools pipe: ``send(method, params, session)``."""

    def __init__(self, profile: Path, log: Path):
        to_browser, self._out = os.pipe()  # we write _out; Chromium reads fd 3
        self._in, from_browser = os.pipe()  # Chromium writes fd 4; we read _in
        command = [CHROMIUM, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"]
        # the shell puts the pipe ends on fds 3 and 4, then becomes Chromium (bash: dash's
        # sh refuses a redirection from a descriptor above 9, "Bad fd number")
        shell = f'exec "$@" 3<&{to_browser} 4>&{from_browser}'
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", shell, "bash", *command, "about:blank"],
                pass_fds=(to_browser, from_browser),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        os.close(to_browser)
        os.close(from_browser)
        self.events: list[dict] = []
        self._buffer = b""
        self._id = 0

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout=30):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") != self._id:
                self.events.append(reply)  # an event, e.g. Network.requestWillBeSent
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def _read(self, deadline: float, method: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer {method} in time")
            if select.select([self._in], [], [], left)[0]:
                data = os.read(self._in, 1 << 20)
                if not data:
                    raise RuntimeError(f"Chromium closed the pipe (exit {self.proc.poll()})")
                self._buffer += data
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)


class Page:
    """One tab, attached through a flat session."""

    def __init__(self, browser: Chromium):
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")
        metrics = {"width": 960, "height": 720, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)

    def send(self, method: str, params: dict | None = None, timeout=30):
        return self.browser.send(method, params, self.session, timeout)

    def evaluate(self, expression: str):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        result = self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never reached: {expression}")
            time.sleep(0.05)

    def type_and_press_enter(self, text: str):
        self.evaluate("document.getElementById('input').focus()")
        self.send("Input.insertText", {"text": text})  # as an input method commits text
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **enter})

    def events(self, method: str) -> list[dict]:
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == method and e.get("sessionId") == self.session
        ]


# Every text the answer's bubble shows, in order: the page replaces it at each streamed chunk.
WATCH_ANSWERS = """
window.seen = [];
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType === Node.TEXT_NODE && n.parentElement?.closest('.assistant')) {
      window.seen.push(n.data);
    }
  }
}).observe(document.getElementById('log'), {childList: true, subtree: true});
"""
LAST_ANSWER = """(() => {
  const b = [...document.querySelectorAll('.assistant .bubble')].at(-1);
  return {text: b.firstChild.data, pieces: Number(b.dataset.pieces), finish: b.dataset.finish,
          note: b.querySelector('.meta')?.textContent, error: b.classList.contains('error')};
})()"""


def test_chat_page_streams_answers_in_chromium(tiny_assistant, tiny_chats, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-wqy-microhei")
    started = time.perf_counter()
    # the two-turn conversation the tiny assistant learned: 你好 -> ..., 谢谢 -> ...
    conversation = next(c for c in tiny_chats if len(c) == 4)
    with start_server(tiny_assistant) as server:
        browser = Chromium(tmp_path / "profile", tmp_path / "chromium.log")
        try:
            page = Page(browser)
            page.send("Page.navigate", {"url": server.url + "/"})
            page.wait_for("document.body !== null && document.body.dataset.state === 'ready'")
            header = page.evaluate("document.getElementById('model').textContent")
            assert tiny_assistant.name in header
            # temperature 0: greedy, so the page must show exactly the answers the model gives
            page.evaluate(
                "const t = document.getElementById('temperature'); t.value = '0';"
                "t.dispatchEvent(new Event('input'))"
            )
            page.evaluate(WATCH_ANSWERS)
            for turn, (question, answer) in enumerate(
                [(conversation[0], conversation[1]), (conversation[2], conversation[3])], start=1
            ):
                page.evaluate("window.seen.length = 0")
                page.type_and_press_enter(question["content"])
                page.wait_for(
                    f"document.querySelectorAll('.assistant .bubble').length === {turn} && "
                    "document.body.dataset.state !== 'streaming'"
                )
                shown = page.evaluate(LAST_ANSWER)
                assert not shown["error"], shown
                assert shown["text"] == answer["content"] and shown["finish"] == "stop"
                # streamed: the bubble grew one token at a time, through every prefix
                seen = [s for s in page.evaluate("window.seen") if s]
                expected = [answer["content"][:k] for k in range(1, len(answer["content"]) + 1)]
                assert seen == expected and shown["pieces"] == len(expected) > 1
                assert shown["note"].startswith(f"{len(expected)} tokens")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shot = page.send("Page.captureScreenshot", {"format": "png"})["data"]
            SCREENSHOT.write_bytes(base64.b64decode(shot))
            urls = [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]
            thrown = page.events("Runtime.exceptionThrown")
        finally:
            browser.close()
    assert urls and all(u.startswith(server.url) or u.startswith("about:") for u in urls), urls
    assert sum("/v1/chat/completions" in u for u in urls) == 2
    assert not thrown, thrown
    assert SCREENSHOT.stat().st_size > 10_000
    print(f"\nbrowser test: {time.perf_counter() - started:.1f} s, screenshot {SCREENSHOT}")
