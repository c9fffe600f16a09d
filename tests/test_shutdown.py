"""Graceful shutdown: no new calls, in-flight ones answered, long-polls released at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, clients, eventually


def test_stop_answers_a_waiting_long_poll_empty_instead_of_cutting_it(
    berth_system: BerthSystem,
) -> None:
    with clients(berth_system) as (_, execution):
        agent = Agent(execution, berth_system.tokens["executor"])
        outcome: Future[object] = Future()
        polling = threading.Event()

        def long_poll() -> None:
            polling.set()
            try:
                outcome.set_result(agent.assign(wait_s=30))
            except Exception as error:
                outcome.set_exception(error)

        threading.Thread(target=long_poll, daemon=True).start()
        polling.wait(5)
        # The poll must be parked in the scheduler before the stop: its own wait, not ours.
        layer = berth_system.stack.app.layer if berth_system.stack.app else None
        assert layer is not None
        eventually(lambda: layer.signals.waiting() > 0, what="the long-poll to be parked")
        started = time.monotonic()
        berth_system.stop_scheduler()
        assert outcome.result(timeout=10) is None, "an empty answer, not an error"
        assert time.monotonic() - started < 5, "released at once, not after its 30 s wait"
