"""The ops-jobs message format, version 2.

One Kafka record is one message. The record key is the job id, the header `x-sender` names the
sending agent, and the value is a JSON object:

    {"v": 2, "event": "job.requested" | "job.completed" | "job.failed" | "job.progress",
     "id": "<uuid of this message>", "job": "<job id>", "session": "<conversation id>",
     "reply_to": "<id of the job.requested it answers; on completed, failed and progress>",
     "from": "<sender>", "to": "<receiver>", "at": <epoch ms>, "due": <epoch ms, optional>,
     "try": <1, 2, ...>, "body": {...},
     "failure": {"code": "RATE_LIMITED" | "TOOL_CRASH" | "BAD_INPUT" | "TIMEOUT",
                 "detail": "...", "retry": true | false},        (on job.failed)
     "llm": {"model": "...", "tokens_in": n, "tokens_out": n, "cost": 0.0012, "ms": 850},
     "status": "working" | "needs_human"}                        (on job.progress)

Answers go to the topic of the agent named in `from` of the request they answer.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

VERSION = 2
EVENTS = ("job.requested", "job.completed", "job.failed", "job.progress")
ANSWERS = ("job.completed", "job.failed", "job.progress")
FAILURE_CODES = ("RATE_LIMITED", "TOOL_CRASH", "BAD_INPUT", "TIMEOUT")
SENDER_HEADER = "x-sender"

# Message ids the dispatcher derives from what it reads, so that a record handled twice (after a
# crash before its offset was committed) sends the same messages again, not new ones.
_ID_NAMESPACE = uuid.UUID("6f1c1f0e-3c39-4a55-9d0e-7a2b8f0c5e11")


def topic(run: str, agent: str) -> str:
    return f"ops.{run}.jobs.{agent}"


def group(run: str, agent: str) -> str:
    return f"ops-{run}-{agent}-workers"


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, ":".join(parts)))


class BadMessage(ValueError):
    """A record that is not an ops-jobs v2 message; `where` says which field"""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f'{where}: {detail}')
        self.where = where


@dataclass
class Failure:
    code: str
    detail: str
    retry: bool

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "retry": self.retry}


@dataclass
class Usage:
    model: str
    tokens_in: int
    tokens_out: int
    cost: float
    ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
            "ms": self.ms,
        }


@dataclass
class Message:
    event: str
    id: str
    job: str
    session: str
    sender: str
    to: str
    at: int
    attempt: int = 1
    reply_to: str | None = None
    due: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    failure: Failure | None = None
    llm: Usage | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": VERSION, "event": self.event, "id": self.id, "job": self.job,
                               "session": self.session}
        if self.reply_to is not None:
            out["reply_to"] = self.reply_to
        out.update({"from": self.sender, "to": self.to, "at": self.at})
        if self.due is not None:
            out["due"] = self.due
        out["try"] = self.attempt
        if self.status is not None:
            out["status"] = self.status
        out["body"] = self.body
        if self.failure is not None:
            out["failure"] = self.failure.to_json()
        if self.llm is not None:
            out["llm"] = self.llm.to_json()
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    def answer(self, event: str, sender: str, message_id: str | None = None,
               body: dict[str, Any] | None = None) -> Message:
        """An answer to this request, addressed back to its sender"""
        return Message(event=event, id=message_id or new_id(), job=self.job, session=self.session,
                       sender=sender, to=self.sender, at=now_ms(), attempt=self.attempt,
                       reply_to=self.id, body=body or {})


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or value == "":
        raise BadMessage(name, f"expected a non-empty string, got {json.dumps(value)}")
    return value


def _int(obj: dict[str, Any], name: str, minimum: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadMessage(name, f"expected an integer >= {minimum}, got {json.dumps(value)}")
    return value


def decode(value: bytes | None) -> Message:
    """Reads a record's value; raises BadMessage saying which field is wrong"""
    if value is None:
        raise BadMessage("value", "the record has no value")
    try:
        obj = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadMessage("value", f"not JSON ({err})") from err
    if not isinstance(obj, dict):
        raise BadMessage("value", "expected a JSON object")
    if obj.get("v") != VERSION:
        raise BadMessage("v", f"expected {VERSION}, got {json.dumps(obj.get('v'))}")
    event = _string(obj, "event")
    if event not in EVENTS:
        raise BadMessage("event", f'unknown event "{event}"')
    msg = Message(event=event, id=_string(obj, "id"), job=_string(obj, "job"),
                  session=_string(obj, "session"), sender=_string(obj, "from"),
                  to=_string(obj, "to"), at=_int(obj, "at", 0), attempt=_int(obj, "try", 1))
    if event in ANSWERS:
        msg.reply_to = _string(obj, "reply_to")
    if "due" in obj:
        msg.due = _int(obj, "due", 0)
    body = obj.get("body", {})
    if not isinstance(body, dict):
        raise BadMessage("body", "expected a JSON object")
    msg.body = body
    if event == "job.failed":
        failure = obj.get("failure")
        if not isinstance(failure, dict):
            raise BadMessage("failure", "required on job.failed")
        msg.failure = Failure(code=_string(failure, "code"), detail=_string(failure, "detail"),
                              retry=failure.get("retry") is True)
    if event == "job.progress":
        msg.status = _string(obj, "status")
    return msg
