"""`cockpit serve` in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium, against the server as a real process on a running lab.

The page is xterm.js drawing on a canvas, so what the screen shows is read where the
browser receives it: a script added before the page's own wraps WebSocket and keeps the
text of every frame the cockpit sends."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit import labfile
from cockpit.lab.runner import RunningLab

COCKPIT = str(Path(sys.executable).parent / "cockpit")
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])")
RECORD_FRAMES = """
window.__cockpitText = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      window.__cockpitText += new TextDecoder().decode(new Uint8Array(event.data));
    } else if (event.data instanceof Blob) {
      event.data.arrayBuffer().then((buffer) => {
        window.__cockpitText += new TextDecoder().decode(new Uint8Array(buffer));
      });
    }
    if (window.__cockpitText.length > 4000000) {
      window.__cockpitText = window.__cockpitText.slice(-2000000);
    }
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def served(tmp_path):
    """(port, the URL with the token) of `cockpit serve` on a running lab."""
    lab = RunningLab(labfile.load("n100"), speed=10).start()
    port = _free_port()
    out = tmp_path / "serve.out"
    with out.open("w") as stdout:
        server = subprocess.Popen(
            [COCKPIT, "--config", str(lab.config_path), "serve", "--port", str(port)],
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "?token=" not in out.read_text():
            assert server.poll() is None, f"cockpit serve ended: {out.read_text()}"
            assert time.monotonic() < deadline, f"no URL printed: {out.read_text()}"
            time.sleep(0.1)
        (url,) = re.findall(r"http://\S+\?token=\S+", out.read_text())
        yield port, url, lab
    finally:
        server.terminate()
        server.wait(20)
        lab.stop()
    assert lab.secret.reveal() not in out.read_text()


def test_requests_without_the_token_are_refused(served):
    port, url, _ = served
    token = url.split("?token=", 1)[1]
    assert _status(port, "/") == 401
    assert _status(port, "/ws") == 401
    assert _status(port, "/static/js/textual.js") == 401
    assert _status(port, "/?token=" + "x" * len(token)) == 401
    assert _status(port, "/", {"Cookie": "cockpit_token=nope"}) == 401
    assert _status(port, f"/?token={token}") == 303  # sets the cookie, drops the token
    assert _status(port, "/", {"Cookie": f"cockpit_token={token}"}) == 200
    # A page on another site cannot drive the cockpit with the user's cookie.
    upgrade = {
        "Cookie": f"cockpit_token={token}",
        "Origin": "http://evil.example",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert _status(port, "/ws", upgrade) == 403


def test_the_page_shows_the_panes_and_answers_a_key(served):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail(
            "chromium and chromium-driver are not installed: .ci/run installs them "
            "(apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    _, url, _ = served
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1600,1000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FRAMES})
        driver.get(url)
        assert "token" not in driver.current_url  # sent on to the bare URL, cookie set

        def shown() -> str:
            return ANSI.sub("", driver.execute_script("return window.__cockpitText || ''"))

        text = _wait(shown, ("Hosts", "Guests", "Peers", "Nodes", "Pods", "kube ok"), 60)
        assert "READ-ONLY" in text  # served read-only unless --allow-actions
        driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("?")
        _wait(shown, ("Next pane",), 15)  # the keys screen: the key got through
    finally:
        driver.quit()


def _wait(read, texts: tuple[str, ...], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = read()
        if all(t in text for t in texts):
            return text
        time.sleep(0.3)
    missing = [t for t in texts if t not in text]
    raise AssertionError(f"the page never showed {missing!r}; it received:\n{text[-3000:]}")


def test_serve_listens_only_on_loopback_or_the_tailnet():
    from cockpit.cli.common import CliError
    from cockpit.cli.serve import check_host

    for host in ("127.0.0.1", "::1", "100.101.102.103", "fd7a:115c:a1e0::1"):
        assert check_host(host) == host
    for host in ("0.0.0.0", "192.168.1.10", "::", "pve.lan"):
        with pytest.raises(CliError, match=r"127\.0\.0\.1"):
            check_host(host)
    # From the command line: a clear error and exit code 2, no traceback.
    result = subprocess.run(
        [COCKPIT, "serve", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "neither loopback nor a tailnet address" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_served_cockpit_is_read_only_unless_actions_are_allowed():
    from cockpit.cli import _parser
    from cockpit.cli.serve import child_command

    def child(*argv: str) -> list[str]:
        return child_command(_parser().parse_args(argv)).split()

    assert child("serve")[-1] == "--readonly"
    assert "--readonly" not in child("serve", "--allow-actions")
    assert child("--config", "/x/c.toml", "serve", "--demo", "n100")[-4:] == [
        "/x/c.toml",
        "--readonly",
        "demo",
        "n100",
    ]
    assert "--readonly" in child("--readonly", "serve", "--allow-actions")
