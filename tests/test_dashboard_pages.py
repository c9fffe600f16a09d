"""The dashboard over HTTP (aiohttp's test client) against a real in-process system.

Sessions, CSRF, escaping, roles and ownership: what a page must refuse or
show as text, checked without a browser (the browser tests cover live updates).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio
from berth.scheduler.v1 import submission_pb2, submission_pb2_grpc

from dashboard.server import start_dashboard
from dashboard.sessions import SESSION_COOKIE, SessionStore
from tests.berth_system import BerthSystem
from tests.dashboard_helpers import Http, csrf_of, dashboard_client, dashboard_config, sign_in
from tests.grpc_helpers import Agent, Submitter
from tests.tls_material import CertificateAuthority

pytestmark = pytest.mark.asyncio

SCRIPT = "<script>document.title='owned'</script>"


@pytest.fixture(scope="module")
def system(module_berth_system: BerthSystem) -> BerthSystem:
    return module_berth_system


@pytest.fixture(scope="module")
def developer_job(system: BerthSystem) -> str:
    with grpc.insecure_channel(system.submission_address) as channel:
        return Submitter(channel, system.tokens["developer"]).submit(parameters={"note": SCRIPT})


@pytest_asyncio.fixture
async def client(system: BerthSystem) -> AsyncIterator[Http]:
    http = await dashboard_client(system)
    yield http
    await http.close()


async def test_sign_in_with_a_token_keeps_it_out_of_pages_and_cookies(
    system: BerthSystem, client: Http, developer_job: str
) -> None:
    token = system.tokens["developer"]
    form = await client.get("/signin")
    signed = await client.post(
        "/signin",
        data={"csrf": csrf_of(await form.text()), "token": token},
        allow_redirects=False,
    )
    assert signed.status == 303 and signed.headers["Location"] == "/"
    cookie = signed.cookies[SESSION_COOKIE]
    assert token not in cookie.value and len(cookie.value) >= 40
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    overview = await (await client.get("/")).text()
    assert "Overview" in overview and token not in overview
    jobs = await (await client.get("/jobs")).text()
    assert developer_job in jobs and token not in jobs


async def test_the_overview_shows_the_users_jobs_against_their_roles_limits(
    system: BerthSystem, client: Http
) -> None:
    with grpc.insecure_channel(system.submission_address) as channel:
        guest = Submitter(channel, system.tokens["guest"])
        for _ in range(2):
            guest.submit()
    overview = await sign_in(client, system.tokens["guest"])
    assert "(role guest)" in overview
    assert "2 of 5</span> queued or running (2 queued, 0 running)" in overview
    assert "1.0 MiB</span> largest job" in overview
    assert "5 min</span> longest timeout" in overview
    assert 'data-serving="yes"' in overview


async def test_a_parameter_with_a_script_tag_is_shown_as_text(
    system: BerthSystem, client: Http, developer_job: str
) -> None:
    await sign_in(client, system.tokens["developer"])
    response = await client.get(f"/jobs/{developer_job}")
    page = await response.text()
    assert response.status == 200
    assert SCRIPT not in page
    assert "&lt;script&gt;document.title=&#39;owned&#39;&lt;/script&gt;" in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_post_without_the_csrf_token_is_refused(system: BerthSystem, client: Http) -> None:
    await sign_in(client, system.tokens["developer"])
    with grpc.insecure_channel(system.submission_address) as channel:
        job_id = Submitter(channel, system.tokens["developer"]).submit()
    for data in ({}, {"csrf": "forged"}):
        refused = await client.post(f"/jobs/{job_id}/cancel", data=data)
        assert refused.status == 403
        assert "stale or forged" in await refused.text()
    page = await (await client.get(f"/jobs/{job_id}/cancel")).text()
    done = await client.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf_of(page)})
    assert done.status == 200 and f"Job {job_id} cancelled." in await done.text()


async def test_sign_in_needs_its_own_form_and_a_token_the_scheduler_accepts(
    system: BerthSystem, client: Http
) -> None:
    forged = await client.post("/signin", data={"csrf": "x", "token": system.tokens["admin"]})
    assert forged.status == 403
    form = await (await client.get("/signin")).text()
    wrong = await client.post("/signin", data={"csrf": csrf_of(form), "token": "not-a-token"})
    assert wrong.status == 401 and "does not accept this token" in await wrong.text()
    executor_form = await (await client.get("/signin")).text()
    executor = await client.post(
        "/signin", data={"csrf": csrf_of(executor_form), "token": system.tokens["executor"]}
    )
    assert executor.status in (401, 403)


async def test_admin_pages_refuse_a_developer_and_serve_an_admin(
    system: BerthSystem, client: Http
) -> None:
    await sign_in(client, system.tokens["developer"])
    for path in ("/admin", "/admin/backends", "/admin/agents"):
        response = await client.get(path)
        assert response.status == 403, path
    page = await (await client.get("/jobs")).text()
    post = await client.post(
        "/admin/backends/qpu", data={"csrf": csrf_of(page), "availability": "MAINTENANCE"}
    )
    assert post.status == 403
    admin = await dashboard_client(system)
    try:
        await sign_in(admin, system.tokens["admin"])
        for path in ("/admin", "/admin/backends", "/admin/agents"):
            response = await admin.get(path)
            assert response.status == 200, path
    finally:
        await admin.close()


async def test_a_guest_sees_none_of_the_developers_jobs(
    system: BerthSystem, client: Http, developer_job: str
) -> None:
    await sign_in(client, system.tokens["guest"])
    assert developer_job not in await (await client.get("/jobs")).text()
    assert developer_job not in await (await client.get("/")).text()
    detail = await client.get(f"/jobs/{developer_job}")
    assert detail.status in (403, 404)
    assert SCRIPT not in await detail.text()


async def test_sessions_expire_when_idle_and_end_at_sign_out(system: BerthSystem) -> None:
    now = [1000.0]
    sessions = SessionStore(idle_s=60, max_age_s=3600, clock=lambda: now[0])
    client = await dashboard_client(system, sessions)
    try:
        page = await sign_in(client, system.tokens["developer"])
        now[0] += 59
        assert str((await client.get("/jobs")).url.path) == "/jobs"
        now[0] += 61
        expired = await client.get("/jobs")
        assert str(expired.url.path) == "/signin"
        await sign_in(client, system.tokens["developer"])
        page = await (await client.get("/jobs")).text()
        out = await client.post("/signout", data={"csrf": csrf_of(page)})
        assert str(out.url.path) == "/signin" and len(sessions) == 0
        assert str((await client.get("/")).url.path) == "/signin"
    finally:
        await client.close()


async def test_an_admin_fails_a_job_and_sets_maintenance_through_the_forms(
    system: BerthSystem, client: Http
) -> None:
    with grpc.insecure_channel(system.submission_address) as channel:
        developer = Submitter(channel, system.tokens["developer"])
        job_id = developer.submit(backend="qpu")
        await sign_in(client, system.tokens["admin"])
        queue = await (await client.get("/admin")).text()
        assert job_id in queue and "Fair-share term" in queue
        failed = await client.post(
            f"/admin/jobs/{job_id}/fail", data={"csrf": csrf_of(queue), "reason": "<b>bad</b>"}
        )
        assert f"Job {job_id} failed." in await failed.text()
        assert "&lt;b&gt;bad&lt;/b&gt;" in await failed.text()  # the reason is the detail
        assert developer.status(job_id).detail.endswith("<b>bad</b>")

        backends = await (await client.get("/admin/backends")).text()
        for availability, expected in (("MAINTENANCE", 2), ("AVAILABLE", 1)):
            done = await client.post(
                "/admin/backends/qpu",
                data={
                    "csrf": csrf_of(backends),
                    "role": "guest",
                    "availability": availability,
                    "description": "<i>calibrating</i>",
                },
            )
            page = await done.text()
            assert f"qpu (guest): {availability}" in page and "<i>calibrating" not in page
            assert _guest_sees(system) == expected


def _guest_sees(system: BerthSystem) -> int:
    with grpc.insecure_channel(system.submission_address) as channel:
        stub = submission_pb2_grpc.SubmissionServiceStub(channel)
        status = stub.GetServiceStatus(
            submission_pb2.GetServiceStatusRequest(backend="qpu"),
            metadata=(("authorization", f"Bearer {system.tokens['guest']}"),),
            timeout=10,
        )
        return int(status.availability)


async def test_tokens_never_reach_the_log(
    system: BerthSystem, client: Http, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for role in ("developer", "admin"):
        await sign_in(client, system.tokens[role])
        page = await (await client.get("/jobs")).text()
        assert (await client.post("/signout", data={"csrf": "wrong"})).status == 403
        await client.post("/signout", data={"csrf": csrf_of(page)})
    form = await (await client.get("/signin")).text()
    await client.post("/signin", data={"csrf": csrf_of(form), "token": "berth_" + "x" * 43})
    assert "signed in: token" in caplog.text
    for token in system.tokens.values():
        assert token not in caplog.text


async def test_https_with_secure_cookies(system: BerthSystem, tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path, "dashboard-ca")
    server = authority.issue("dashboard", server=True)
    config = replace(dashboard_config(system), tls_cert=server.cert, tls_key=server.key, port=0)
    running = await start_dashboard(config)
    try:
        trust = ssl.create_default_context(cafile=str(authority.files.cert))
        async with aiohttp.ClientSession() as http:
            base = f"https://localhost:{running.port}"
            form = await http.get(f"{base}/signin", ssl=trust)
            assert form.status == 200
            signed = await http.post(
                f"{base}/signin",
                data={"csrf": csrf_of(await form.text()), "token": system.tokens["guest"]},
                ssl=trust,
                allow_redirects=False,
            )
            assert signed.status == 303
            assert signed.cookies[SESSION_COOKIE]["secure"]
        with pytest.raises(aiohttp.ClientConnectorError):
            async with aiohttp.ClientSession() as plain:
                await plain.get(f"https://localhost:{running.port}/signin")  # untrusted
    finally:
        await running.stop()


async def _next_event(stream: aiohttp.StreamReader, job_id: str) -> tuple[str, dict[str, object]]:
    """The next event about job_id and its data (keep-alives and other jobs skipped)."""
    event = ""
    while True:
        line = (await asyncio.wait_for(stream.readline(), timeout=20)).decode()
        if line.startswith("event: "):
            event = line[len("event: ") :].strip()
        elif line.startswith("data: "):
            data: dict[str, object] = json.loads(line[len("data: ") :])
            if data["job_id"] == job_id:
                return event, data


async def test_the_live_list_drops_a_job_that_left_its_status_filter(
    system: BerthSystem, client: Http
) -> None:
    with (
        grpc.insecure_channel(system.submission_address) as submission,
        grpc.insecure_channel(system.execution_address) as execution,
    ):
        job_id = Submitter(submission, system.tokens["developer"]).submit(backend="qpu")
        await sign_in(client, system.tokens["developer"])
        queued = await client.get("/events/jobs?status=QUEUED&backend=qpu")
        running = await client.get("/events/jobs?status=RUNNING&backend=qpu")
        assert queued.headers["Content-Type"] == "text/event-stream"
        event, first = await _next_event(queued.content, job_id)
        assert (event, first["status"], first["queue_position"]) == ("job", "QUEUED", 1)
        agent = Agent(execution, system.tokens["executor"], "live-agent")
        assigned = await asyncio.to_thread(agent.assign, "qpu")
        assert assigned is not None and assigned.job_id == job_id
        assert await _next_event(queued.content, job_id) == (
            "left",
            {"job_id": job_id, "status": "RUNNING"},
        )
        event, joined = await _next_event(running.content, job_id)
        assert (event, joined["status"], joined["cancellable"]) == ("job", "RUNNING", True)
        queued.close()
        running.close()
