"""Writes python_sdk_records.json: Kafka records made by the real A2A Python SDK (a2a-sdk 1.3.0,
its types in their ProtoJSON mapping) and the CloudEvents SDK's Kafka binding (cloudevents 2.2.0),
binary and structured mode. The dialect tests read them; regenerate with

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install a2a-sdk==1.3.0 cloudevents==2.2.0
    /tmp/fx/bin/python agents/protocol/testdata/make_python_fixtures.py
"""

import datetime
import json
import pathlib

from a2a.types import (
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

TIME = "2026-12-01T10:00:00Z"


def ts():
    t = Timestamp()
    t.FromJsonString(TIME)
    return t


def record(name, message, note):
    return {
        "name": name,
        "note": note,
        "key": message.key.decode() if isinstance(message.key, bytes) else message.key,
        "headers": {k: v.decode() for k, v in message.headers.items()},
        "value": message.value.decode(),
    }


def event(kind, source, data, **extra):
    attributes = {
        "type": kind,
        "source": source,
        "id": f"ce-{kind}-{source}",
        "specversion": "1.0",
        "time": datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.timezone.utc),
    }
    attributes.update(extra)
    return CloudEvent(attributes=attributes, data=data)


ask = Message(
    message_id="m-1",
    context_id="ctx-1",
    task_id="t-1",
    role=Role.ROLE_USER,
    parts=[Part(text="find papers on consumer lag")],
)
done = Task(
    id="t-1",
    context_id="ctx-1",
    status=TaskStatus(
        state=TaskState.TASK_STATE_COMPLETED,
        message=Message(message_id="m-2", role=Role.ROLE_AGENT, parts=[Part(text="3 papers")]),
        timestamp=ts(),
    ),
    history=[ask],
)
failed = Task(
    id="t-1",
    context_id="ctx-1",
    status=TaskStatus(
        state=TaskState.TASK_STATE_FAILED,
        message=Message(
            message_id="m-3",
            role=Role.ROLE_AGENT,
            parts=[Part(text="upstream LLM returned 429 Too Many Requests")],
        ),
        timestamp=ts(),
    ),
    history=[ask],
)
waiting = TaskStatusUpdateEvent(
    task_id="t-1",
    context_id="ctx-1",
    status=TaskStatus(
        state=TaskState.TASK_STATE_INPUT_REQUIRED,
        message=Message(message_id="m-4", role=Role.ROLE_AGENT, parts=[Part(text="confirm?")]),
    ),
)
canceled = Task(id="t-1", context_id="ctx-1", status=TaskStatus(state=TaskState.TASK_STATE_CANCELED))
trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

records = [
    record(
        "binary message",
        kafka.to_binary_event(event("a2a.message", "planner", MessageToDict(ask), **trace)),
        "a Message from the user role: a task",
    ),
    record(
        "binary task completed",
        kafka.to_binary_event(event("a2a.task", "search", MessageToDict(done))),
        "a Task COMPLETED answering m-1 (its history)",
    ),
    record(
        "binary task failed",
        kafka.to_binary_event(event("a2a.task", "search", MessageToDict(failed))),
        "a Task FAILED: its status text says 429",
    ),
    record(
        "binary input required",
        kafka.to_binary_event(event("a2a.status", "search", MessageToDict(waiting))),
        "a status update INPUT_REQUIRED: waiting on a person",
    ),
    record(
        "structured send message request",
        kafka.to_structured_event(
            event("a2a.message", "/agents/planner", MessageToDict(SendMessageRequest(message=ask)))
        ),
        "structured mode, a SendMessageRequest wrapper, a URI source",
    ),
    record(
        "structured stream response canceled",
        kafka.to_structured_event(
            event("a2a.task", "urn:agent:search", MessageToDict(StreamResponse(task=canceled)))
        ),
        "structured mode, a StreamResponse wrapping a CANCELED task",
    ),
    record(
        "binary not json",
        kafka.to_binary_event(
            CloudEvent(
                attributes={
                    "specversion": "1.0",
                    "type": "blob",
                    "source": "search",
                    "id": "b-1",
                    "datacontenttype": "application/octet-stream",
                },
                data=b"\x00\x01",
            )
        ),
        "binary data that is not JSON: no dialect reads it",
    ),
]

out = pathlib.Path(__file__).with_name("python_sdk_records.json")
out.write_text(json.dumps(records, indent=2) + "\n")
print(f"wrote {len(records)} records to {out}")
