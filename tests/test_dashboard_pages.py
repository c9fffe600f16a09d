"""The dashboard over HTTP (aiohttp's test client) against a real in-process system.

Sessions, CSRF, escaping, roles and ownership: what a page must refuse or
show as text, checked without a browser (the browser tests cover live updates).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio
from berth.scheduler.v1 import job_pb2, submission_pb2, submission_pb2_grpc
from google.protobuf import duration_pb2

from dashboard.server import start_dashboard
from dashboard.sessions import SESSION_COOKIE, SessionStore
from tests.berth_system import BerthSystem
from tests.dashboard_helpers import Http, csrf_of, dashboard_client, dashboard_config, sign_in
from tests.grpc_helpers import Agent, Submitter, bearer
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
    assert "2 of 5</span> queued, waiting or running (2 queued or waiting, 0 running)" in overview
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


def _submit_array(
    system: BerthSystem, sets: list[dict[str, str]], max_running: int = 0
) -> tuple[str, list[str]]:
    """Through SubmitJobArray, on the emulator backend (no agent runs in this module)."""
    with grpc.insecure_channel(system.submission_address) as channel:
        submitter = Submitter(channel, system.tokens["developer"])
        response = submitter.stub.SubmitJobArray(
            submission_pb2.SubmitJobArrayRequest(
                job=job_pb2.Job(
                    program=job_pb2.Program(format="qasm3", payload=b"OPENQASM 3;"),
                    settings=job_pb2.JobSettings(
                        backend="emulator",
                        n_shots=10,
                        timeout=duration_pb2.Duration(seconds=60),
                        parameters={"device": "<b>sim</b>"},
                    ),
                ),
                parameter_sets=[submission_pb2.ParameterSet(parameters=s) for s in sets],
                max_running=max_running,
            ),
            metadata=submitter.metadata,
            timeout=10,
        )
        return response.array_id, list(response.job_ids)


def _rows(page: str) -> list[str]:
    """The job ids of a page's job rows, in page order."""
    return re.findall(r'<tr data-job-id="([^"]+)"', page)


async def test_an_array_page_counts_its_jobs_and_cancels_them_as_one(
    system: BerthSystem, client: Http
) -> None:
    sweep = [{"theta": "0.1"}, {"theta": "0.2"}, {"theta": SCRIPT}]
    array_id, job_ids = _submit_array(system, sweep, max_running=2)
    await sign_in(client, system.tokens["developer"])
    page = await (await client.get(f"/arrays/{array_id}")).text()
    assert _rows(page) == job_ids
    assert re.search(r'data-count="total"><span class="n">3</span>', page)
    assert re.search(r'data-count="QUEUED"><span class="n">3</span>', page)
    assert "at most 2 of its jobs run at once" in page
    # The swept parameter is a column, the shared one is shown once; both as text.
    assert "<code>theta</code></th>" in page and "<dt>device</dt>" in page
    assert "&lt;b&gt;sim&lt;/b&gt;" in page and SCRIPT not in page

    cancel_form = await (await client.get(f"/arrays/{array_id}/cancel")).text()
    assert "3 QUEUED" in cancel_form
    refused = await client.post(f"/arrays/{array_id}/cancel", data={"csrf": "forged"})
    assert refused.status == 403
    done = await client.post(f"/arrays/{array_id}/cancel", data={"csrf": csrf_of(cancel_form)})
    page = await done.text()
    assert f"Array {array_id}: 3 cancelled, 0 running asked to stop, 0 had ended." in page
    assert re.search(r'data-count="CANCELLED"><span class="n">3</span>', page)
    assert "Cancel the array" not in page


async def test_another_users_array_is_not_found(system: BerthSystem, client: Http) -> None:
    array_id, job_ids = _submit_array(system, [{"n": "1"}])
    await sign_in(client, system.tokens["guest"])
    for path in (f"/arrays/{array_id}", f"/arrays/{array_id}/cancel", "/arrays/array-nope"):
        response = await client.get(path)
        assert response.status == 404, path
        assert job_ids[0] not in await response.text()
    with grpc.insecure_channel(system.submission_address) as channel:
        Submitter(channel, system.tokens["developer"]).cancel(job_ids[0])


async def test_the_job_list_and_job_page_link_each_job_to_its_place_in_its_array(
    system: BerthSystem, client: Http
) -> None:
    array_id, job_ids = _submit_array(system, [{"n": "0"}, {"n": "1"}])
    await sign_in(client, system.tokens["developer"])
    try:
        listing = await (await client.get("/jobs")).text()
        link = f'<a class="array" href="/arrays/{array_id}" title="its job array">'
        assert f"{link}{array_id}[1]</a>" in listing
        detail = await (await client.get(f"/jobs/{job_ids[1]}")).text()
        assert f'<dt>Array</dt><dd><a href="/arrays/{array_id}"' in detail
        assert "</code></a>, index 1</dd>" in detail
        page = await (await client.get(f"/arrays/{array_id}")).text()
        assert re.findall(r'<tr data-job-id="[^"]+">\s*<td>(\d+)</td>', page) == ["0", "1"]
    finally:
        with grpc.insecure_channel(system.submission_address) as channel:
            Submitter(channel, system.tokens["developer"]).stub.CancelJobArray(
                submission_pb2.CancelJobArrayRequest(array_id=array_id),
                metadata=bearer(system.tokens["developer"]),
                timeout=10,
            )


async def test_hold_and_release_from_the_job_page_and_a_refusal_is_a_message(
    system: BerthSystem, client: Http
) -> None:
    with grpc.insecure_channel(system.submission_address) as channel:
        developer = Submitter(channel, system.tokens["developer"])
        job_id = developer.submit()
        await sign_in(client, system.tokens["developer"])
        page = await (await client.get(f"/jobs/{job_id}")).text()
        assert re.search(
            rf'action="/jobs/{job_id}/hold" data-job="{job_id}" data-when="holdable">', page
        )
        assert re.search(rf'action="/jobs/{job_id}/release" [^>]* hidden>', page)
        refused = await client.post(f"/jobs/{job_id}/hold", data={"csrf": "forged"})
        assert refused.status == 403

        held = await client.post(f"/jobs/{job_id}/hold", data={"csrf": csrf_of(page)})
        page = await held.text()
        assert held.status == 200 and str(held.url.path) == f"/jobs/{job_id}"
        assert f"Job {job_id} is HELD: no agent gets it until it is released." in page
        assert developer.status(job_id).status == job_pb2.JOB_STATUS_HELD
        assert job_id in _rows(await (await client.get("/jobs?status=HELD")).text())
        assert job_id not in _rows(await (await client.get("/jobs?status=QUEUED")).text())

        released = await client.post(f"/jobs/{job_id}/release", data={"csrf": csrf_of(page)})
        page = await released.text()
        assert f"Job {job_id} is QUEUED: queued again, at the back of the line." in page
        assert developer.status(job_id).status == job_pb2.JOB_STATUS_QUEUED

        developer.cancel(job_id)
        late = await client.post(f"/jobs/{job_id}/hold", data={"csrf": csrf_of(page)})
        page = await late.text()
        assert late.status == 200
        assert f'role="alert">Job {job_id} was not held: job {job_id} is CANCELLED' in page
        assert f'action="/jobs/{job_id}/hold"' not in page  # an ended job has no buttons


def _submit_after(developer: Submitter, parent: str) -> str:
    """A job that runs once `parent` ended, however (afterany)."""
    request = submission_pb2.SubmitJobRequest(
        job=job_pb2.Job(
            program=job_pb2.Program(format="qasm3", payload=b"OPENQASM 3;"),
            settings=job_pb2.JobSettings(
                backend="emulator", n_shots=1, timeout=duration_pb2.Duration(seconds=60)
            ),
        ),
        options=submission_pb2.SubmitOptions(
            dependencies=submission_pb2.Dependencies(
                job_ids=[parent], condition=submission_pb2.DEPENDENCY_CONDITION_AFTER_ANY
            )
        ),
    )
    return developer.stub.SubmitJob(request, metadata=developer.metadata, timeout=10).job_id


async def test_a_waiting_job_lists_its_dependencies_and_is_filterable(
    system: BerthSystem, client: Http
) -> None:
    await sign_in(client, system.tokens["developer"])
    with grpc.insecure_channel(system.submission_address) as channel:
        developer = Submitter(channel, system.tokens["developer"])
        parent = developer.submit()
        child = _submit_after(developer, parent)
        try:
            waiting = await (await client.get("/jobs?status=WAITING")).text()
            assert _rows(waiting) == [child]
            assert '<option value="WAITING" selected>' in waiting
            page = await (await client.get(f"/jobs/{child}")).text()
            assert 'status-WAITING" data-field="status">WAITING</span>' in page
            assert "once every one of these jobs has ended, however it ended" in page
            assert f'<li><a href="/jobs/{parent}"><code>{parent}</code></a></li>' in page
            assert f'action="/jobs/{child}/hold" data-job="{child}" data-when="holdable">' in page
        finally:
            developer.cancel(child)
            developer.cancel(parent)
