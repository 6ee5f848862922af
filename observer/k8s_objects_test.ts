import assert from "node:assert/strict";
import { isNewer, narrowEvent, narrowPod } from "./k8s_objects.ts";

Deno.test("a pod narrows from the API's JSON to the fields the source reads", () => {
  const pod = narrowPod({
    metadata: {
      name: "p",
      namespace: "ns",
      uid: "u1",
      resourceVersion: "7",
      labels: { agent: "coder", ignored: 3 },
      creationTimestamp: "2025-01-01T00:00:00Z",
    },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True" }, "not a condition"],
      containerStatuses: [{
        name: "agent",
        restartCount: 2,
        ready: true,
        state: { waiting: { reason: "ErrImagePull" } },
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled", signal: 9 } },
      }],
    },
  });
  assert.deepEqual(pod, {
    ok: true,
    value: {
      name: "p",
      namespace: "ns",
      uid: "u1",
      resourceVersion: "7",
      labels: { agent: "coder" },
      createdAt: "2025-01-01T00:00:00Z",
      phase: "Running",
      conditions: [{ type: "Ready", status: "True" }],
      containers: [{
        name: "agent",
        restartCount: 2,
        ready: true,
        state: { kind: "waiting", reason: "ErrImagePull" },
        lastTerminated: { exitCode: 137, reason: "OOMKilled", signal: 9 },
      }],
    },
  });
});

Deno.test("a pod without a name, uid or resourceVersion, or with bad container statuses, is refused", () => {
  const bad = narrowPod({ metadata: { name: "p", uid: "u" } });
  assert.ok(!bad.ok);
  assert.match(bad.error, /^Pod metadata lacks name, uid or resourceVersion: /);
  const badContainers = narrowPod({
    metadata: { name: "p", uid: "u", resourceVersion: "1" },
    status: { containerStatuses: "nope" },
  });
  assert.ok(!badContainers.ok);
  assert.equal(badContainers.error, `Pod "p" containerStatuses is not a list: "nope"`);
});

Deno.test("an event narrows with its latest time and count, whichever API version wrote them", () => {
  const event = narrowEvent({
    metadata: { uid: "e1", resourceVersion: "9", creationTimestamp: "2025-01-01T00:00:00Z" },
    involvedObject: { kind: "Pod", name: "p", namespace: "ns" },
    type: "Warning",
    reason: "BackOff",
    eventTime: "2025-01-01T00:00:01.000000Z",
    series: { count: 4, lastObservedTime: "2025-01-01T00:00:05.000000Z" },
  });
  assert.deepEqual(event, {
    ok: true,
    value: {
      uid: "e1",
      resourceVersion: "9",
      type: "Warning",
      reason: "BackOff",
      involvedKind: "Pod",
      involvedName: "p",
      involvedNamespace: "ns",
      count: 4,
      at: "2025-01-01T00:00:05.000000Z",
    },
  });
  const bad = narrowEvent({ metadata: { uid: "e1", resourceVersion: "9" } });
  assert.ok(!bad.ok);
  assert.equal(bad.error, "Event involvedObject lacks kind or name: undefined");
});

Deno.test("resource versions compare as etcd revisions, and opaque ones only by equality", () => {
  assert.equal(isNewer("10", "9"), true);
  assert.equal(isNewer("9", "10"), false);
  assert.equal(isNewer("9", "9"), false);
  assert.equal(isNewer("abc", "9"), true);
  assert.equal(isNewer("abc", "abc"), false);
});
