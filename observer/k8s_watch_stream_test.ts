import assert from "node:assert/strict";
import { narrowWatchEvent } from "./k8s_watch_stream.ts";

Deno.test("watch lines narrow to changes, bookmarks and in-stream errors, and anything else is refused", () => {
  const pod = { metadata: { name: "p" } };
  assert.deepEqual(narrowWatchEvent({ type: "MODIFIED", object: pod }), {
    ok: true,
    value: { type: "MODIFIED", object: pod },
  });
  assert.deepEqual(
    narrowWatchEvent({ type: "BOOKMARK", object: { metadata: { resourceVersion: "42" } } }),
    { ok: true, value: { type: "BOOKMARK", resourceVersion: "42" } },
  );
  assert.deepEqual(
    narrowWatchEvent({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
    }),
    {
      ok: true,
      value: { type: "ERROR", code: 410, reason: "Expired", message: "too old resource version" },
    },
  );
  assert.deepEqual(narrowWatchEvent({ type: "BOOKMARK", object: { metadata: {} } }), {
    ok: false,
    error: `Bookmark has no resourceVersion: {"metadata":{}}`,
  });
  assert.deepEqual(narrowWatchEvent({ type: "SYNC", object: {} }), {
    ok: false,
    error: `Watch event type is unknown: "SYNC"`,
  });
  assert.deepEqual(narrowWatchEvent([1]), {
    ok: false,
    error: "Watch event is not an object: [1]",
  });
});
