"""The web client in a real browser against a real server, with a real clip.

Each test saves screenshots at desktop and phone widths under var/test-artifacts/browser/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from browser_harness import (
    CHROMIUM,
    DESKTOP,
    PASSWORD,
    ConsoleWatch,
    Server,
    running_server,
    sign_up,
    snap,
    upload,
    wait_for_status,
)
from playwright.sync_api import Browser, Page, Playwright, Route, expect, sync_playwright

from media.clips import ClipLibrary, ClipSpec

SMALL = ClipSpec(name="web-small", width=96, height=64, fps=10, seconds=2.0, audio_channels=1)
# Long enough to be caught mid-processing: 120 frames enhanced to 1280x720.
TOO_LONG = ClipSpec(name="web-too-long", width=64, height=36, fps=2, seconds=31.0)  # FREE: 30 s at most
LONGER = ClipSpec(name="web-longer", width=320, height=180, fps=10, seconds=12.0)
EXPECTED_HEADERS = {"content-security-policy"}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("web-run"), "run") as server:
        yield server


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API without a worker: jobs wait in the queue until a test starts one."""
    with running_server(tmp_path_factory.mktemp("web-queue"), "serve") as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


def _email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.com"


def test_sign_up_upload_follow_compare_download_chart_and_delete_account(
    page: Page, run_server: Server, clips: ClipLibrary, tmp_path: Path
) -> None:
    console = ConsoleWatch(page)
    refreshes: list[str] = []
    page.on("request", lambda request: "/auth/refresh" in request.url and refreshes.append(request.url))
    response = page.goto(run_server.base_url + "/")
    assert response is not None and EXPECTED_HEADERS <= set(response.headers)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    snap(page, "01-login")
    email = _email()
    sign_up(page, run_server.base_url, email)
    page.reload()  # the session survives a reload
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    snap(page, "02-upload")

    pieces = _drop_first_piece(page)
    clip = clips.get(SMALL)
    upload(page, clip.path)
    page.wait_for_url(re.compile(r"#/videos/"))
    assert pieces == ["dropped", "bytes */", "piece"], pieces  # resumed after the network drop
    wait_for_status(page, "COMPLETED")
    expect(page.locator("#compare")).to_be_visible()
    _expect_videos_playable(page)
    slider = page.get_by_label("Original ◀ ▶ Enhanced")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowLeft")
    assert "inset(0px 53%" in page.locator(".compare-before").evaluate("element => element.style.clipPath")
    snap(page, "03-result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the enhanced video").click()
    downloaded = tmp_path / "enhanced.mp4"
    download_info.value.save_as(downloaded)
    stored = next((run_server.storage_root / "enhanced").rglob("enhanced-*.mp4"))
    assert downloaded.read_bytes() == stored.read_bytes()
    with av.open(str(downloaded)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (96 * 4, 64 * 4)
        assert sum(1 for _ in container.decode(video=0)) == clip.frames

    page.get_by_role("link", name="Library").click()
    expect(page.locator("#library")).to_contain_text("Ready")
    expect(page.locator("#library")).to_contain_text("96x64 → 384x256")
    snap(page, "04-library")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#usage-summary")).to_have_attribute("data-total", "1")
    assert page.locator('.chart rect.bar.used[data-minutes="1"]').count() == 1
    expect(page.locator("#plan")).to_contain_text("1 of 1 used")
    snap(page, "05-account")

    for _ in range(50):  # the flow can be quicker than the 5 s the token has before its refresh
        if refreshes:
            break
        page.wait_for_timeout(200)
    assert refreshes, "the access token was not refreshed before it expired"
    page.get_by_label("Type your email address to confirm").fill(email)
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/#/signup")
    page.get_by_role("heading", name="Create your account").wait_for()
    page.get_by_role("link", name="Log in").click()
    page.get_by_role("heading", name="Log in").wait_for()  # not the sign-up form the click replaces
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    console.assert_clean("ERR_CONNECTION_RESET", "status of 401")


def test_preview_first_compare_then_enhance_the_whole_video(
    page: Page, run_server: Server, clips: ClipLibrary
) -> None:
    console = ConsoleWatch(page)
    sign_up(page, run_server.base_url, _email())
    expect(page.get_by_label("Preview first (free)")).to_be_checked()  # the default for a new video
    clip = clips.get(SMALL)
    upload(page, clip.path, preview_first=True)
    page.wait_for_url(re.compile(r"#/videos/"))
    expect(page.locator("#preview-panel")).to_be_visible()
    expect(page.locator("#job-status")).to_have_count(0)  # nothing started, nothing held
    page.get_by_role("button", name="Make a free preview").click()
    page.wait_for_selector("#preview-status")
    seen = page.locator("#preview-status").get_attribute("data-status")
    assert seen in {"QUEUED", "PROCESSING", "COMPLETED"}, seen
    page.wait_for_selector('#preview-status[data-status="COMPLETED"]', timeout=90_000)
    expect(page.locator("#compare")).to_be_visible()
    _expect_videos_playable(page)
    before = page.locator(".compare-before").get_attribute("src") or ""
    after = page.locator(".compare-after").get_attribute("src") or ""
    assert "%2Fpreviews%2F" in before and "before.mp4" in before, before
    assert "%2Fpreviews%2F" in after and "after.mp4" in after, after
    page.get_by_role("button", name="Play both").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#compare video')].every(v => !v.paused && v.currentTime > 0)"
    )
    expect(page.locator("#preview-quality")).to_contain_text(re.compile(r"\d+\.\d dB"))
    # The ticket's plan (the browser sent the picture's size), until the worker has measured it.
    expect(page.locator("#size-plan")).to_have_text("96x64 (source) → 384x256 (output), planned")
    snap(page, "11-preview")

    page.get_by_role("button", name="Enhance the whole video").click()
    wait_for_status(page, "COMPLETED")
    expect(page.locator("#compare")).to_be_visible()
    expect(page.locator("#size-plan")).to_have_text("96x64 (source) → 384x256 (output)")
    expect(page.locator("#job-quality")).to_contain_text("dB")
    snap(page, "12-enhanced-after-preview")
    page.get_by_role("link", name="Library").click()
    thumbnail = page.locator(".library-item img.thumbnail")
    expect(thumbnail).to_have_count(1)
    page.wait_for_function(
        "() => { const img = document.querySelector('.library-item img.thumbnail');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    snap(page, "13-library-thumbnail")
    console.assert_clean()


def _drop_first_piece(page: Page) -> list[str]:
    """The first piece of the upload fails as a network drop would; the rest go through."""
    seen: list[str] = []

    def handle(route: Route) -> None:
        content_range = route.request.headers.get("content-range", "")
        if not seen:
            seen.append("dropped")
            route.abort("connectionreset")
            return
        seen.append("bytes */" if content_range.startswith("bytes */") else "piece")
        route.continue_()

    page.route("**/storage/upload/resumable**", handle)
    return seen


def _cut_every_upload(page: Page) -> list[str]:
    seen: list[str] = []

    def handle(route: Route) -> None:
        content_range = route.request.headers.get("content-range", "")
        seen.append("bytes */" if content_range.startswith("bytes */") else "piece")
        route.abort("connectionreset")

    page.route("**/storage/upload/resumable**", handle)
    return seen


def _expect_videos_playable(page: Page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].every(video => video.readyState >= 2)",
        timeout=30_000,
    )


def test_plan_errors_are_explained(page: Page, queue_server: Server, clips: ClipLibrary) -> None:
    console = ConsoleWatch(page)
    sign_up(page, queue_server.base_url, _email())
    upload(page, clips.get(TOO_LONG).path)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This video is longer than your plan allows.")
    expect(alert).to_contain_text("Your plan takes videos up to 30 s. Trim the video")
    clip = clips.get(SMALL)
    upload(page, clip.path)
    wait_for_status(page, "QUEUED")
    upload(page, clip.path)  # the FREE plan's one video is taken
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your plan has no room for another video right now.")
    expect(alert).to_contain_text("move to a larger plan")
    snap(page, "06-quota-error")
    # Preview first holds nothing, so the upload goes through; starting the whole video is refused.
    page.get_by_role("link", name="Library").click()  # leave: a fresh upload view
    upload(page, clip.path, preview_first=True)
    page.wait_for_url(re.compile(r"#/videos/"))
    page.get_by_role("button", name="Enhance the whole video").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your plan has no room for another video right now.")
    expect(alert).to_contain_text("Your plan includes 1 video in total.")
    expect(page.get_by_role("button", name="Enhance the whole video")).to_be_enabled()
    snap(page, "06b-start-refused")
    page.get_by_role("link", name="Library").click()
    for _ in range(2):
        page.get_by_role("button", name=f"Delete {clip.path.name}").first.click()
        page.wait_for_timeout(300)
    expect(page.locator("#library")).to_contain_text("No videos yet")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    console.assert_clean("status of 403")  # the refused upload and the refused start


def test_unfinished_upload_resumes_then_cancel_while_waiting(
    page: Page, queue_server: Server, clips: ClipLibrary
) -> None:
    console = ConsoleWatch(page)
    sign_up(page, queue_server.base_url, _email())
    clip = clips.get(SMALL)
    requests = _cut_every_upload(page)
    upload(page, clip.path)
    expect(page.locator("#upload-figures")).to_contain_text("Connection lost")
    snap(page, "07a-upload-interrupted")
    page.get_by_role("link", name="Library").click()  # leave the page: the upload stays unfinished
    expect(page.locator("#library")).to_contain_text("Waiting for the upload")
    page.get_by_role("link", name=clip.path.name).click()
    page.unroute("**/storage/upload/resumable**")
    page.get_by_label(f"Choose “{clip.path.name}” again").set_input_files(str(clip.path))
    wait_for_status(page, "QUEUED")
    assert requests[0] == "piece", requests  # the first attempt was cut
    expect(page.locator("#job-figures")).to_contain_text("Place in line")
    snap(page, "07-queued")
    page.get_by_role("button", name="Cancel").click()
    wait_for_status(page, "CANCELED", timeout_s=30)
    expect(page.get_by_text("No minutes were charged.")).to_be_visible()
    snap(page, "08-canceled")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#plan")).to_contain_text("0 of 1 used")
    _add_and_remove_a_webhook(page)
    console.assert_clean("ERR_CONNECTION_RESET")


def _add_and_remove_a_webhook(page: Page) -> None:
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks/video")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".secret")).to_contain_text("whsec_")
    expect(page.locator("#webhooks")).to_contain_text("http://127.0.0.1:9/hooks/video")
    snap(page, "08b-webhook")
    page.get_by_role("button", name="Delete: http://127.0.0.1:9/hooks/video").click()
    expect(page.locator("#webhooks")).to_contain_text("No endpoints.")


def test_reload_during_processing_picks_up_progress(
    page: Page, queue_server: Server, clips: ClipLibrary
) -> None:
    console = ConsoleWatch(page)
    sign_up(page, queue_server.base_url, _email())
    upload(page, clips.get(LONGER).path)
    wait_for_status(page, "QUEUED")
    video_url = page.url
    queue_server.start_worker()
    wait_for_status(page, "PROCESSING", timeout_s=60)
    snap(page, "09-processing")
    page.reload()
    assert page.url == video_url
    page.wait_for_selector('#job-status[data-status="PROCESSING"], #job-status[data-status="COMPLETED"]')
    percents, figures = _watch_progress(page)
    wait_for_status(page, "COMPLETED", timeout_s=120)
    assert percents == sorted(percents), percents  # no event replayed out of order
    assert any("Frames" in text and "Speed" in text and "Time left" in text for text in figures), figures
    expect(page.get_by_role("link", name="Download the enhanced video")).to_be_visible()
    console.assert_clean()


def _watch_progress(page: Page) -> tuple[list[float], list[str]]:
    """The bar's values and the figures shown, until the job's panel is replaced by the result."""
    values: list[float] = []
    figures: list[str] = []
    snapped = False
    while page.locator("#job-progress").count():
        try:
            values.append(float(page.locator("#job-progress").evaluate("bar => bar.value", timeout=1000)))
            figures.append(page.locator("#job-figures").inner_text(timeout=1000))
        except Exception:  # the bar is gone: the job completed and the page moved on
            break
        if "Time left" in figures[-1] and not snapped:
            snap(page, "10-enhancing")
            snapped = True
        page.wait_for_timeout(100)
    return values, figures
