"""Faults injected from FOREIGN_FAULTS, e.g. `fixer=fail429(every=3),triage=slow(ms=5000)`.

- `fail429(every=N)`: every Nth job this process receives fails as an upstream HTTP 429 does;
- `slow(ms=N)`: each job takes N ms more before it is answered;
- `input_required`: each job is answered `job.progress` with status `needs_human`, never done.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_ITEM = re.compile(r"^([a-z][a-z0-9_-]*)=([a-z0-9_]+)(?:\((.*)\))?$")


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Faults:
    fail429_every: int | None = None
    slow_ms: int = 0
    input_required: bool = False

    def __str__(self) -> str:
        parts = [f"fail429(every={self.fail429_every})"] if self.fail429_every else []
        parts += [f"slow(ms={self.slow_ms})"] if self.slow_ms else []
        parts += ["input_required"] if self.input_required else []
        return ",".join(parts) or "none"


def _items(spec: str) -> list[str]:
    """Splits on the commas that are not inside parentheses"""
    items: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(spec):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(spec[start:i])
            start = i + 1
    items.append(spec[start:])
    return [item.strip() for item in items if item.strip()]


def _params(item: str, text: str | None) -> dict[str, int]:
    params: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        if not eq or not value.strip().isdigit():
            raise FaultSpecError(f'Cannot parse fault "{item}": expected name=<integer> parameters')
        params[name.strip()] = int(value)
    return params


def parse(spec: str, agent: str) -> Faults:
    """The faults FOREIGN_FAULTS gives `agent`; raises FaultSpecError on text it cannot read"""
    every: int | None = None
    slow_ms = 0
    input_required = False
    for item in _items(spec):
        match = _ITEM.match(item)
        if match is None:
            raise FaultSpecError(f'Cannot parse fault "{item}": expected agent=fault(name=value)')
        target, name, args = match.groups()
        params = _params(item, args)
        if name == "fail429":
            n = params.get("every", 1)
            if n < 1:
                raise FaultSpecError(f'Cannot parse fault "{item}": every must be at least 1')
            if target == agent:
                every = n
        elif name == "slow":
            if "ms" not in params:
                raise FaultSpecError(f'Cannot parse fault "{item}": slow needs ms=<integer>')
            if target == agent:
                slow_ms = params["ms"]
        elif name == "input_required":
            if target == agent:
                input_required = True
        else:
            raise FaultSpecError(
                f'Unknown fault "{name}" in "{item}": expected fail429, slow or input_required')
    return Faults(fail429_every=every, slow_ms=slow_ms, input_required=input_required)


class JobCounter:
    """Counts the jobs a process received, for `fail429(every=N)`; shared by worker threads"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count
