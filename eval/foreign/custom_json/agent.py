"""Runs one ops-jobs agent: `python agent.py dispatcher|triage|fixer`.

Environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), A2A_RUN (the deployment's run id,
part of every topic name), FOREIGN_FAULTS (injected faults, see ops/faults.py), and for the
dispatcher OPS_STEP_TIMEOUT_MS (default 30000), OPS_MAX_TRIES (default 2) and OPS_STATE_DIR
(where its open jobs are kept; default <tmp>/ops-jobs/<run>). Stops cleanly on SIGTERM or SIGINT.
Exit codes: 0 stopped, 2 usage or configuration error.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading

from ops.dispatcher import Dispatcher
from ops.faults import FaultSpecError, parse
from ops.pending import PendingJobs
from ops.worker import Worker

AGENTS = ("dispatcher", "triage", "fixer")


def log(line: str) -> None:
    print(line, flush=True)


def usage_error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr, flush=True)
    return 2


def positive_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    if text == "":
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f'{name} must be a positive integer, got "{text}"')
    return int(text)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in AGENTS:
        return usage_error(f"usage: agent.py {'|'.join(AGENTS)} (got {' '.join(argv) or 'nothing'})")
    agent = argv[0]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = os.environ.get("A2A_RUN", "")
    if run == "":
        return usage_error("A2A_RUN is not set: it names the run every topic belongs to")
    try:
        faults = parse(os.environ.get("FOREIGN_FAULTS", ""), agent)
        step_timeout_ms = positive_int("OPS_STEP_TIMEOUT_MS", 30000)
        max_tries = positive_int("OPS_MAX_TRIES", 2)
    except (FaultSpecError, ValueError) as err:
        return usage_error(str(err))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _sig, _frame: stop.set())
    log(f"{agent}: starting (run {run}, faults {faults})")
    if agent == "dispatcher":
        state_dir = os.environ.get("OPS_STATE_DIR") or os.path.join(
            tempfile.gettempdir(), "ops-jobs", run)
        pending = PendingJobs(os.path.join(state_dir, "dispatcher.sqlite3"))
        try:
            Dispatcher(run, bootstrap, pending, stop, log, step_timeout_ms, max_tries).serve()
        finally:
            pending.close()
    else:
        Worker(agent, run, bootstrap, faults, stop, log).serve()
    log(f"{agent}: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
