"""A headless Chromium driven over the DevTools protocol, for tests that look at a page as a person
would: Debian's ``chromium`` (``.ci/run`` installs it when missing), a fresh profile, no network
but loopback, and the ``websockets`` client already in the lock."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def require_chromium() -> str:
    found = chromium_binary()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found: .ci/run installs it (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed here")
    return found


class Chromium:
    """One browser, one tab; ``call`` sends a DevTools command to the tab and returns its result."""

    def __init__(self, width: int = 1440, height: int = 900, timezone: str | None = None):
        from websockets.sync.client import connect

        self.ws = None
        self.profile = Path(tempfile.mkdtemp(prefix="rentan-chromium-"))
        env = {**os.environ, **({"TZ": timezone} if timezone else {})}
        self.proc = subprocess.Popen([require_chromium(), *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if time.monotonic() > end or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port, path = port_file.read_text().split()[:2]
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=30)
        self._id = 0
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        if timezone:
            self.call("Emulation.setTimezoneOverride", {"timezoneId": timezone})

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def call(self, method: str, params: dict | None = None) -> dict:
        return self._send(method, params, self.session)

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.call("Network.setCookie", {"url": url, "name": name, "value": value, "httpOnly": True})

    def evaluate(self, expression: str):
        got = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in got:
            raise RuntimeError(f"{expression}: {got['exceptionDetails']}")
        return got["result"].get("value")

    def open(self, url: str, ready: str = "document.readyState === 'complete'", seconds: float = 60) -> None:
        """Go to ``url`` and wait until the ``ready`` expression holds."""
        self.call("Page.navigate", {"url": url})
        self.wait(ready, seconds)

    def wait(self, expression: str, seconds: float = 60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got = self.evaluate(expression)
                if got:
                    return got
            except RuntimeError:
                pass  # the page is still loading
            time.sleep(0.3)
        raise TimeoutError(f"page never satisfied {expression!r} (at {self.evaluate('location.href')})")

    def screenshot(self, target: Path, full_page: bool = True) -> Path:
        params: dict = {"format": "png"}
        if full_page:
            h = self.evaluate("Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
            w = self.evaluate("document.documentElement.clientWidth")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        data = self.call("Page.captureScreenshot", params)["data"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
        return target

    def close(self) -> None:
        try:
            if self.ws is not None:
                self.ws.close()
        except Exception:  # noqa: BLE001 - closing a browser that may be gone already
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        shutil.rmtree(self.profile, ignore_errors=True)
