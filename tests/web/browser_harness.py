"""A real server and a real browser for the web client's tests.

The server is `video-enhancer run` (or `serve`, with a worker the test starts when it wants the
queue to move) in a subprocess on a free port, on SQLite and a temporary storage folder. The
browser is Debian's chromium driven by Playwright (Playwright's own download is not used).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from playwright.sync_api import ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("VE_TEST_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"
ACCESS_TOKEN_TTL_SECONDS = 65  # the page refreshes 60 s before expiry: 5 s after logging in


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    storage_root: Path
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> None:
        self.processes.append(_spawn(["worker"], self.env, self.workdir, "worker"))


def server_env(workdir: Path, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VE_")}
    env.update(
        VE_ENV="development",
        VE_DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite'}",
        VE_STORAGE_ROOT=str(workdir / "storage"),
        VE_WORKER_SCRATCH_DIR=str(workdir / "scratch"),
        VE_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VE_ENCODER_PRESET="ultrafast",
        VE_ENHANCER="lanczos",
        VE_BCRYPT_ROUNDS="4",
        VE_QUEUE_POLL_SECONDS="0.2",
        VE_EVENT_POLL_SECONDS="0.2",
        VE_SEGMENT_SECONDS="1",
        VE_WORKER_METRICS_PORT="-1",
        VE_ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TOKEN_TTL_SECONDS),
        VE_WEBHOOK_ALLOW_PRIVATE="true",  # the webhook form's test endpoint is on 127.0.0.1
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env


def _spawn(args: list[str], env: dict[str, str], workdir: Path, name: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    command = [sys.executable, "-m", "video_enhancer.cli", *args]
    return subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def running_server(workdir: Path, command: str) -> Iterator[Server]:
    """`command` is `run` (API and one worker) or `serve` (API alone)."""
    port = free_port()
    env = server_env(workdir, port)
    subprocess.run([sys.executable, "-m", "video_enhancer.cli", "migrate"], env=env, cwd=workdir, check=True)
    server = Server(f"http://127.0.0.1:{port}", env, workdir / "storage", workdir)
    server.processes.append(_spawn([command, "--port", str(port)], env, workdir, command))
    try:
        _wait_until_up(server)
        yield server
    finally:
        for process in reversed(server.processes):
            process.terminate()
        for process in server.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.processes[0].poll() is not None:
            raise AssertionError((server.workdir / "run.log").read_text(errors="replace")[-4000:])
        try:
            if requests.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start within 60 s")


class ConsoleWatch:
    """Every console error and uncaught exception of a page (CSP violations are console errors).

    The browser also logs each answer with an error status ("Failed to load resource: ... 401");
    those are kept apart, for the test to compare with the refusals it provoked.
    """

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.failed_loads: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource"):
            self.failed_loads.append(message.text.removeprefix("Failed to load resource: "))
        else:
            self.errors.append(message.text)

    def assert_clean(self, *expected_failures: str) -> None:
        """No errors; each failed load matches one of `expected_failures` (a substring)."""
        assert self.errors == []
        unexpected = [load for load in self.failed_loads if not any(e in load for e in expected_failures)]
        assert unexpected == []


def snap(page: Page, name: str) -> None:
    """Screenshots at desktop and phone widths under var/test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def sign_up(page: Page, base_url: str, email: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("link", name="Create an account").click()
    # the link changes the URL at once and the view on the next hashchange event: wait for the
    # new form, or the fill below can land in the login form the render is about to replace
    page.get_by_role("heading", name="Create your account").wait_for()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form
    page.wait_for_url("**/#/upload")
    page.get_by_role("heading", name="Enhance a video").wait_for()


def upload(page: Page, clip: Path, preview_first: bool = False) -> None:
    """Upload `clip`; "Preview first" is the page's default, the tests mostly enhance at once."""
    page.goto(page.url.split("#")[0] + "#/upload")
    page.get_by_label("Preview first (free)" if preview_first else "Enhance right away").check()
    page.locator("#file").set_input_files(str(clip))


def wait_for_status(page: Page, status: str, timeout_s: float = 90) -> None:
    page.wait_for_selector(f'#job-status[data-status="{status}"]', timeout=timeout_s * 1000)
