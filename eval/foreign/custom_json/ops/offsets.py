"""Which offset a partition can commit while several of its records are handled at once: the
lowest record still being handled, or the one after the last handled when none is"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Partition:
    running: set[int] = field(default_factory=set)
    highest_done: int = -1
    committed: int = -1


class OffsetTracker:
    def __init__(self) -> None:
        self._parts: dict[tuple[str, int], _Partition] = {}

    def started(self, topic: str, partition: int, offset: int) -> None:
        self._parts.setdefault((topic, partition), _Partition()).running.add(offset)

    def finished(self, topic: str, partition: int, offset: int) -> int | None:
        """The offset to commit now, or None when the partition's position did not move (or the
        partition was revoked meanwhile)"""
        part = self._parts.get((topic, partition))
        if part is None or offset not in part.running:
            return None
        part.running.discard(offset)
        part.highest_done = max(part.highest_done, offset)
        position = min(part.running) if part.running else part.highest_done + 1
        if position <= part.committed:
            return None
        part.committed = position
        return position

    def running(self) -> int:
        return sum(len(p.running) for p in self._parts.values())

    def forget(self, topic: str, partition: int) -> None:
        """A revoked partition: what it still runs is answered but not committed here"""
        self._parts.pop((topic, partition), None)
