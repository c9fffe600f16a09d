"""The dashboard's jobs page of 50 jobs against the scheduler call it makes, same run.

The page's server time (its Server-Timing header) and a ListJobs of the same
50 jobs through the dashboard's own gRPC client are taken alternately, so a
change in the machine's load moves both alike. Their p50 ratio is the
dashboard's overhead: rendering, the session and the HTTP layer.
"""

from __future__ import annotations

import re
import time

import requests

from bench.measurements import Row, Usage, summarise
from bench.processes import BackgroundLoop
from bench.service_phases import fill_queue
from bench.stack import SystemUnderTest
from dashboard.config import DashboardConfig
from dashboard.scheduler_gateway import SchedulerGateway
from dashboard.server import start_dashboard
from dashboard.sessions import SESSION_COOKIE, SessionStore
from scheduler.domain.jobs import Role

PAGE_JOBS = 50
BACKEND = "bench-submit"
WARMUP = 5
PAGE_PHASE = f"dashboard: jobs page of {PAGE_JOBS} (server)"
CALLS_PHASE = f"dashboard: its ListJobs of {PAGE_JOBS}"
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def dashboard_rows(stack: SystemUnderTest, requests_count: int) -> list[Row]:
    fill_queue(stack, BACKEND, PAGE_JOBS)
    token = stack.tokens[Role.ADMIN]
    loop = BackgroundLoop()
    sessions = SessionStore()
    gateway = SchedulerGateway(stack.submission_address)
    config = DashboardConfig(host="127.0.0.1", port=0, scheduler=stack.submission_address)
    page_s: list[float] = []
    calls_s: list[float] = []
    try:
        running = loop.run(start_dashboard(config, sessions))
        loop.run(gateway.open())
        calls = gateway.for_token(token)
        url = f"http://127.0.0.1:{running.port}/jobs?page_size={PAGE_JOBS}"
        with requests.Session() as http:
            http.cookies.set(SESSION_COOKIE, sessions.create(token, is_admin=True).session_id)
            for round_ in range(WARMUP + requests_count):
                started = time.perf_counter()
                jobs, _ = loop.run(calls.list_jobs(None, "", PAGE_JOBS, ""))
                call_s = time.perf_counter() - started
                response = http.get(url, timeout=30)
                response.raise_for_status()
                timing = _SERVER_TIMING.search(response.headers.get("Server-Timing", ""))
                assert timing and response.text.count("<tr data-job-id=") == len(jobs) == PAGE_JOBS
                if round_ >= WARMUP:
                    calls_s.append(call_s)
                    page_s.append(float(timing[1]) / 1000)
        loop.run(running.stop())
    finally:
        loop.run(gateway.close())
        loop.close()
    return [
        summarise(PAGE_PHASE, page_s, sum(page_s), Usage()),
        summarise(CALLS_PHASE, calls_s, sum(calls_s), Usage()),
    ]
