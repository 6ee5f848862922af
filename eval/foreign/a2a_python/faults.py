"""FOREIGN_FAULTS: the faults an eval asks this system to inject into its own agents.

The grammar is the one in eval/foreign/foreign_system.ts: a comma-separated list of
`agent=fault`, where fault is `fail429(every=N)`, `slow(ms=N)` or `input_required`, e.g.
`summarizer=fail429(every=3),search=slow(ms=5000)`. An agent may be named more than once.
Every entry is checked, also those for other agents, so a typo is an error wherever it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ENTRY = re.compile(r"^([a-z][a-z0-9_-]*)=([a-z_][a-z0-9_]*)(?:\((.*)\))?$")
_ARG = re.compile(r"^([a-z_]+)=(\d+)$")

# The arguments each fault takes (all positive integers)
_ARGS: dict[str, tuple[str, ...]] = {
    "fail429": ("every",),
    "slow": ("ms",),
    "input_required": (),
}


class FaultSpecError(ValueError):
    """FOREIGN_FAULTS cannot be parsed"""


@dataclass(frozen=True)
class Faults:
    """The faults of one agent"""

    fail_every: int | None = None
    slow_ms: int = 0
    input_required: bool = False
    names: tuple[str, ...] = field(default=())

    def fails(self, task_number: int) -> bool:
        """Whether the task_number-th task (1-based) fails with a 429"""
        return self.fail_every is not None and task_number % self.fail_every == 0


def _split_top_level(spec: str) -> list[str]:
    """Splits on commas outside parentheses"""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in spec:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip() != ""]


def _parse_args(entry: str, kind: str, raw: str | None) -> dict[str, int]:
    wanted = _ARGS[kind]
    args: dict[str, int] = {}
    for item in [] if raw is None or raw.strip() == "" else raw.split(","):
        match = _ARG.match(item.strip())
        if match is None:
            raise FaultSpecError(
                f'Cannot parse fault argument "{item.strip()}" in "{entry}": expected name=integer'
            )
        name, value = match.group(1), int(match.group(2))
        if name not in wanted:
            raise FaultSpecError(f'Unknown argument "{name}" of fault "{kind}" in "{entry}"')
        if value < 1:
            raise FaultSpecError(f'Argument "{name}" in "{entry}" must be at least 1')
        args[name] = value
    missing = [name for name in wanted if name not in args]
    if missing:
        raise FaultSpecError(f'Fault "{entry}" lacks argument "{missing[0]}"')
    return args


def parse_faults(spec: str | None, agent: str) -> Faults:
    """The faults FOREIGN_FAULTS gives `agent`; raises FaultSpecError on any bad entry"""
    fail_every: int | None = None
    slow_ms = 0
    input_required = False
    names: list[str] = []
    for entry in _split_top_level(spec or ""):
        match = _ENTRY.match(entry)
        if match is None:
            raise FaultSpecError(
                f'Cannot parse FOREIGN_FAULTS entry "{entry}": expected agent=fault or agent=fault(arg=N)'
            )
        target, kind, raw_args = match.group(1), match.group(2), match.group(3)
        if kind not in _ARGS:
            raise FaultSpecError(
                f'Unknown fault "{kind}" in "{entry}": expected one of {", ".join(_ARGS)}'
            )
        args = _parse_args(entry, kind, raw_args)
        if target != agent:
            continue
        names.append(entry.split("=", 1)[1])
        if kind == "fail429":
            fail_every = args["every"]
        elif kind == "slow":
            slow_ms = args["ms"]
        else:
            input_required = True
    return Faults(fail_every, slow_ms, input_required, tuple(names))
