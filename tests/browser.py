"""A real headless Chromium driven over the DevTools protocol on a pipe (no Python packages, no
port): open a page from file://, wait for it to load, read the DOM, collect console errors, and
save a screenshot. Used by tests/test_report.py; the tests skip when no browser is installed."""

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Run in the page after its load event: every <img> (did it decode, how wide), every section,
# the sortable tables and the sliders' frame lists.
INSPECT = """(() => {
  const imgs = Array.from(document.images).map(i => ({src: i.currentSrc.slice(0, 80),
      complete: i.complete, width: i.naturalWidth}));
  return {
    images: imgs,
    sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
    sortable: document.querySelectorAll('table.sortable').length,
    sliders: Array.from(document.querySelectorAll('.slider')).map(
        s => JSON.parse(s.dataset.frames).src.length),
    height: document.documentElement.scrollHeight,
  };
})()"""


def find_browser() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


class Chromium:
    """One headless browser for several pages; ``with Chromium() as c: c.open(path)``."""

    def __init__(self, executable: str | None = None, timeout: float = 60):
        self.executable = executable or find_browser()
        self.timeout = timeout
        self._id = 0
        self._buffer = b""

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="gan-lab-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def plumbing():  # the protocol's pipes are the child's fds 3 (in) and 4 (out)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [
                self.executable,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--allow-file-access-from-files",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            pass_fds=(3, 4),  # kept open in the child after the plumbing
            preexec_fn=plumbing,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(Exception):  # closing a browser that is already gone
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

    # ---- the protocol -------------------------------------------------------------------
    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("the browser did not answer")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, events: list | None = None, **params):
        """Send one command and return its result; events that arrive meanwhile go to ``events``."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None and "method" in reply:
                events.append(reply)

    def wait_for(self, name: str, events: list) -> None:
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == name for e in events):
            events.append(self._read(deadline))

    # ---- a page -------------------------------------------------------------------------
    def open(self, path: Path, screenshot: Path | None = None, width: int = 1280) -> dict:
        """Load ``path`` from file://; returns what INSPECT found plus ``errors``: console
        errors, uncaught exceptions and failed loads the browser reported."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        events: list = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session, events)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            events,
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session, events, url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired", events)
        found = self.call(
            "Runtime.evaluate", session, events, expression=INSPECT, returnByValue=True
        )["result"]["value"]
        if screenshot is not None:
            shot = self.call(
                "Page.captureScreenshot", session, events, format="png", captureBeyondViewport=True
            )
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        self.call("Target.closeTarget", targetId=target)
        found["errors"] = errors(events)
        return found


def errors(events: list) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(params["entry"].get("text", "") + " " + params["entry"].get("url", ""))
    return out
