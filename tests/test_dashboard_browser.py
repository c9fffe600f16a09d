"""The dashboard in headless Chromium against the embedded system with a real agent.

One system, one agent process, one dashboard and one browser for the module;
each test gets a fresh browser context (its own cookies) per user. The
screenshots in docs/images/ are taken here, at 1280x800.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from berth.scheduler.v1 import job_pb2
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from dashboard.config import DashboardConfig
from dashboard.server import RunningDashboard, start_dashboard
from tests.agent_process import AgentProcess, Researcher
from tests.berth_system import BerthSystem
from tests.browser import LAUNCH_ARGS, VIEWPORT, BrowserUnavailable, chromium_executable

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
# The committed screenshots are rewritten only when asked, so a test run leaves the checkout clean.
UPDATE_SCREENSHOTS = os.environ.get("BERTH_UPDATE_SCREENSHOTS") == "1"
PROGRAM = ["--", sys.executable, str(Path(__file__).with_name("agent_job_program.py"))]
XSS = "<script>document.title='owned'</script>"
STATUS_TIMEOUT_MS = 30_000
# One system, agent and browser for the module, also under xdist's --dist loadgroup.
pytestmark = pytest.mark.xdist_group("dashboard-browser")

SignIn = Callable[[str], Page]


@pytest.fixture(scope="session")
def chromium() -> Path:
    try:
        return chromium_executable()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="module")
def system(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BerthSystem]:
    """Agents heartbeat every third of the lease, and learn of a cancel at their next
    heartbeat: a 3-second lease shows a cancel from the page within about a second."""
    system = BerthSystem(moto_endpoint, tmp_path_factory.mktemp("berth"), lease_seconds=3)
    yield system.start()
    system.stop()


@pytest.fixture(scope="module")
def agent(system: BerthSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    logs = tmp_path_factory.mktemp("agent")
    process = AgentProcess(
        system, "--agent-id", "lab-agent-1", *PROGRAM, stderr_path=logs / "agent.stderr"
    )
    process.wait_for("started")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def dashboard_url(system: BerthSystem) -> Iterator[str]:
    config = DashboardConfig(
        host="127.0.0.1", port=0, scheduler=system.submission_address, backends=("emulator", "qpu")
    )
    running: RunningDashboard = system.run(start_dashboard(config))
    yield f"http://127.0.0.1:{running.port}"
    system.run(running.stop())


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def researcher(system: BerthSystem) -> Iterator[Researcher]:
    client = Researcher(system)
    yield client
    client.close()


@pytest.fixture
def sign_in(browser: Browser, dashboard_url: str, system: BerthSystem) -> Iterator[SignIn]:
    contexts = []

    def open_as(role: str) -> Page:
        context = browser.new_context(
            viewport=VIEWPORT, base_url=dashboard_url, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.goto("/signin")
        page.get_by_label("Berth token").fill(system.tokens[role])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()


def _cli_submit(
    system: BerthSystem, tmp_path: Path, *params: str, backend: str = "emulator"
) -> str:
    program = tmp_path / "bell.qasm"
    program.write_text("OPENQASM 3; qubit q;")
    args = [f"--param={p}" for p in params]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler_client",
            "submit",
            "--address",
            system.submission_address,
            "--token-file",
            str(system.tokens_file),
            "--role",
            "developer",
            "--backend",
            "emulator",
            *args,
            str(program),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split()[-1]


def _row_status(page: Page, job_id: str) -> Locator:
    return page.locator(f'tr[data-job-id="{job_id}"] [data-field="status"]')


def _shoot(page: Page, name: str, tmp_path: Path) -> None:
    """A 1280x800 screenshot: into docs/images/ with BERTH_UPDATE_SCREENSHOTS=1."""
    directory = IMAGES if UPDATE_SCREENSHOTS else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    image = page.screenshot(path=str(directory / f"dashboard-{name}.png"))
    assert image[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_job_from_the_cli_appears_and_completes_without_a_reload(
    system: BerthSystem, agent: AgentProcess, sign_in: SignIn, tmp_path: Path
) -> None:
    page = sign_in("developer")
    page.goto("/jobs")
    page.evaluate("window.__sameDocument = true")
    gate = tmp_path / "gate"
    job_id = _cli_submit(system, tmp_path, f"gate={gate}", "experiment=bell-pair")
    status = _row_status(page, job_id)
    expect(status).to_have_text("RUNNING", timeout=STATUS_TIMEOUT_MS)
    gate.touch()
    expect(status).to_have_text("COMPLETED", timeout=STATUS_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"


def test_cancel_from_the_page_stops_a_running_job(
    system: BerthSystem,
    agent: AgentProcess,
    sign_in: SignIn,
    researcher: Researcher,
    tmp_path: Path,
) -> None:
    job_id = researcher.submit(b"long", parameters={"gate": str(tmp_path / "never")})
    agent.wait_for("running", job_id)
    page = sign_in("developer")
    page.goto(f"/jobs/{job_id}")
    page.locator(f'tr[data-job-id="{job_id}"]').get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name=re.compile("Cancel job"))).to_be_visible()
    page.get_by_role("button", name="Yes, cancel the job").click()
    expect(_row_status(page, job_id)).to_have_text("CANCELLED", timeout=STATUS_TIMEOUT_MS)
    assert researcher.status(job_id).status == job_pb2.JOB_STATUS_CANCELLED


def test_result_and_log_download_the_exact_bytes(
    agent: AgentProcess, sign_in: SignIn, researcher: Researcher, tmp_path: Path
) -> None:
    job_id = researcher.submit(b"payload-for-download", parameters={"experiment": XSS})
    final = researcher.wait_terminal(job_id)
    assert final.status == job_pb2.JOB_STATUS_COMPLETED, final
    page = sign_in("developer")
    page.goto(f"/jobs/{job_id}")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    with page.expect_download() as result:
        row.get_by_role("link", name="Result").click()
    assert Path(result.value.path()).read_bytes() == researcher.result(job_id)
    with page.expect_download() as log:
        row.get_by_role("link", name="Log").click()
    assert Path(log.value.path()).read_bytes().decode() == researcher.log(job_id)

    # A parameter holding a script is shown as text and never runs.
    expect(page.locator("dl.params dd")).to_have_text(XSS)
    assert page.title() != "owned"
    _shoot(page, "job-detail", tmp_path)


def test_a_guest_does_not_see_the_developers_job(
    sign_in: SignIn, researcher: Researcher, tmp_path: Path
) -> None:
    job_id = researcher.submit(b"private", backend="qpu", parameters={"secret": "lab-notes-42"})
    page = sign_in("guest")
    assert job_id not in page.content()
    page.goto("/jobs")
    expect(page.get_by_role("heading", name="My jobs")).to_be_visible()
    assert job_id not in page.content()
    response = page.goto(f"/jobs/{job_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "lab-notes-42" not in page.content()


def test_admin_pages_refuse_a_developer_and_show_an_admin_the_queue(
    sign_in: SignIn, researcher: Researcher, agent: AgentProcess, tmp_path: Path
) -> None:
    developer = sign_in("developer")
    for path in ("/admin", "/admin/backends", "/admin/agents"):
        response = developer.goto(path)
        assert response is not None and response.status == 403, path
    expect(developer.get_by_role("heading", name="Admins only")).to_be_visible()

    for n in range(3):
        researcher.submit(b"waiting", backend="qpu", parameters={"n": str(n)})
    researcher.wait_terminal(researcher.submit(b"quick"))
    developer.goto("/jobs")
    expect(developer.locator("tr[data-job-id]").first).to_be_visible()
    _shoot(developer, "jobs", tmp_path)
    admin = sign_in("admin")
    _shoot(admin, "overview", tmp_path)
    admin.goto("/admin")
    expect(admin.get_by_role("heading", name=re.compile("^qpu"))).to_be_visible()
    _shoot(admin, "admin-queue", tmp_path)
    admin.goto("/admin/agents")
    expect(admin.get_by_text("lab-agent-1")).to_be_visible()


def test_a_post_without_the_csrf_token_is_refused(sign_in: SignIn, researcher: Researcher) -> None:
    job_id = researcher.submit(b"keep", backend="qpu")
    page = sign_in("developer")
    status = page.evaluate(
        """async (jobId) => {
            const response = await fetch(`/jobs/${jobId}/cancel`, {method: "POST",
                headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: ""});
            return response.status;
        }""",
        job_id,
    )
    assert status == 403
    assert researcher.status(job_id).status == job_pb2.JOB_STATUS_QUEUED


def test_hold_then_release_from_the_job_page(sign_in: SignIn, researcher: Researcher) -> None:
    job_id = researcher.submit(b"hold-me", backend="qpu")  # no agent serves qpu here
    page = sign_in("developer")
    page.goto(f"/jobs/{job_id}")
    hold = page.get_by_role("button", name="Hold", exact=True)
    release = page.get_by_role("button", name="Release", exact=True)
    expect(release).to_be_hidden()
    hold.click()
    expect(_row_status(page, job_id)).to_have_text("HELD")
    expect(page.get_by_role("status")).to_contain_text(f"Job {job_id} is HELD")
    expect(hold).to_be_hidden()
    assert researcher.status(job_id).status == job_pb2.JOB_STATUS_HELD
    release.click()
    expect(_row_status(page, job_id)).to_have_text("QUEUED")
    expect(release).to_be_hidden()
    assert researcher.status(job_id).status == job_pb2.JOB_STATUS_QUEUED
    researcher.cancel(job_id)
