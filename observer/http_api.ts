/**
 * The observer's read-only HTTP API (Hono). With OBSERVER_TOKEN set, every endpoint but
 * `/health` requires `Authorization: Bearer <token>` (Hono's `bearerAuth`, timing-safe): 401
 * without it or with a wrong token, 400 to a header that is no bearer token.
 *
 * | endpoint              | answer                                                            |
 * |-----------------------|-------------------------------------------------------------------|
 * | `GET /health`         | 200 `{"status":"ok"}`, or 503 with the reasons                   |
 * | `GET /metrics`        | Prometheus text                                                   |
 * | `GET /state`          | the current state (what a snapshot holds)                         |
 * | `GET /errors`         | folded errors, newest first; `?severity=&category=&agent=`        |
 * | `GET /queues`         | per agent queue: lag, group state, members, status               |
 * | `GET /events?since=N` | diff records with seq > N (`limit`, default 500, at most 5000)    |
 * | `GET /events/stream`  | server-sent events: the records after `since` or `Last-Event-ID`, |
 * |                       | then each new one (`id` = seq); see event_stream.ts               |
 *
 * At most OBSERVER_MAX_STREAMS streams and OBSERVER_MAX_HISTORY_READS `/events` reads at once: one
 * more is answered 429 with `Retry-After` (each stream holds a buffer of up to 4 MiB).
 */

import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { eventsSince, streamEvents } from "./event_stream.ts";
import type { Observer } from "./observer.ts";
import { DIFF_FILE_BASE, STATE_FILE_BASE } from "./record_format.ts";
import { listSegments } from "./segment_files.ts";
import { errorText } from "@mat/agents/support";

async function fileBytes(dir: string, base: string): Promise<number> {
  let total = 0;
  for (const s of await listSegments(dir, base)) {
    total += await Deno.stat(s.path).then((st) => st.size, () => 0);
  }
  return total;
}

/** A Prometheus label value: backslash, double quote and line feed escaped (a group's name is any text) */
function labelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** What a client told to come back waits, in seconds */
const RETRY_AFTER_S = 1;

function nonNegativeInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Query parameter "${name}" must be an integer >= 0, got "${raw}"`);
  }
  return n;
}

/** Where the API logs what it does not tell its client */
export type ApiLog = (
  level: "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

function stderrLog(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  console.error(
    JSON.stringify({ ts: new Date().toISOString(), level, component: "api", msg, ...fields }),
  );
}

export function createApp(observer: Observer, log: ApiLog = stderrLog): Hono {
  const app = new Hono();
  const token = observer.config.token;

  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof RangeError) return c.json({ error: err.message }, 400);
    // What failed inside (a path, a file, a stack) stays in the log, under an id the client gets
    const id = crypto.randomUUID().slice(0, 8);
    log("error", "request failed", { id, path: c.req.path, error: errorText(err) });
    return c.json({ error: "internal error", id }, 500);
  });

  if (token !== undefined) {
    const auth = bearerAuth({
      token,
      realm: "observer",
      noAuthenticationHeader: { message: { error: "Missing bearer token" } },
      invalidAuthenticationHeader: {
        message: { error: "Malformed Authorization header: expected Bearer <token>" },
      },
      invalidToken: { message: { error: "Wrong bearer token" } },
    });
    app.use("*", (c, next) => c.req.path === "/health" ? next() : auth(c, next));
  }

  app.get("/health", (c) => {
    const h = observer.health();
    return h.ok
      ? c.json({ status: "ok" })
      : c.json({ status: "unhealthy", reasons: h.reasons }, 503);
  });

  app.get("/metrics", async (c) => {
    const s = observer.recorder.state;
    const dir = observer.config.dataDir;
    const [diffBytes, stateBytes] = await Promise.all([
      fileBytes(dir, DIFF_FILE_BASE),
      fileBytes(dir, STATE_FILE_BASE),
    ]);
    const w = observer.diff;
    const lines = [
      "# HELP observer_messages_seen_total Agent queue records recorded (valid or not)",
      "# TYPE observer_messages_seen_total counter",
      `observer_messages_seen_total ${s.messagesSeen + s.malformedSeen}`,
      "# HELP observer_malformed_total Records that were not a valid envelope",
      "# TYPE observer_malformed_total counter",
      `observer_malformed_total ${s.malformedSeen}`,
      "# HELP observer_events_written_total Diff records made durable by this process",
      "# TYPE observer_events_written_total counter",
      `observer_events_written_total ${w.linesWritten}`,
      "# HELP observer_diff_seq Last seq of the diff history",
      "# TYPE observer_diff_seq gauge",
      `observer_diff_seq ${w.lastSeq}`,
      "# HELP observer_write_seconds Write and fdatasync time of a flush",
      "# TYPE observer_write_seconds summary",
      `observer_write_seconds_sum ${(w.flushMsTotal / 1000).toFixed(6)}`,
      `observer_write_seconds_count ${w.flushes}`,
      "# HELP observer_write_pending_bytes Bytes waiting for the disk",
      "# TYPE observer_write_pending_bytes gauge",
      `observer_write_pending_bytes ${w.pendingBytes}`,
      "# HELP observer_dropped_total Entries a bounded structure dropped (oldest first)",
      "# TYPE observer_dropped_total counter",
      ...[...s.dropped].map(([k, v]) => `observer_dropped_total{structure="${k}"} ${v}`),
      "# HELP observer_own_lag_messages Messages in agent queues not yet recorded",
      "# TYPE observer_own_lag_messages gauge",
      `observer_own_lag_messages ${observer.ownLag()}`,
      "# HELP observer_file_bytes Size of each history, all segments",
      "# TYPE observer_file_bytes gauge",
      `observer_file_bytes{file="diff"} ${diffBytes}`,
      `observer_file_bytes{file="state"} ${stateBytes}`,
      "# HELP observer_healthy 1 when /health answers 200",
      "# TYPE observer_healthy gauge",
      `observer_healthy ${observer.health().ok ? 1 : 0}`,
    ];
    const discovery = observer.queues.discovery;
    if (discovery !== undefined) {
      lines.push(
        "# HELP observer_group_discovery_seconds How long the last ask of which groups read the queues took",
        "# TYPE observer_group_discovery_seconds gauge",
        `observer_group_discovery_seconds ${(discovery.ms / 1000).toFixed(4)}`,
        "# HELP observer_consumer_groups Consumer groups the broker listed at the last discovery",
        "# TYPE observer_consumer_groups gauge",
        `observer_consumer_groups ${discovery.groups}`,
        "# HELP observer_undecodable_assignments Members whose assignment is not the consumer protocol's",
        "# TYPE observer_undecodable_assignments gauge",
        `observer_undecodable_assignments ${discovery.undecodable}`,
        "# HELP observer_group_discovery_failing 1 while the last discovery failed (the one before is used)",
        "# TYPE observer_group_discovery_failing gauge",
        `observer_group_discovery_failing ${observer.queues.discoveryError === undefined ? 0 : 1}`,
      );
    }
    // One series per queue and group reading it (group "" for a queue no group reads)
    for (const q of s.queues.values()) {
      lines.push(
        `observer_queue_lag{agent="${q.agent}",group="${
          labelValue(q.group)
        }",status="${q.status}"} ${q.lag}`,
      );
    }
    return c.text(lines.join("\n") + "\n", 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  app.get("/state", (c) => {
    const { recent_message_ids: _r, recent_closed_tasks: _t, conversations: _c, ...state } =
      observer.recorder.state.toData();
    return c.json({ diff_seq: observer.diff.lastSeq, ...state });
  });

  app.get("/errors", (c) => {
    const { severity, category, agent } = c.req.query();
    const errors = [...observer.recorder.state.errors.values()]
      .filter((e) =>
        (severity === undefined || e.severity === severity) &&
        (category === undefined || e.category === category) &&
        (agent === undefined || e.agent === agent)
      )
      .sort((a, b) => b.last_seen.localeCompare(a.last_seen));
    return c.json({ errors, counts: observer.recorder.state.errorCounts });
  });

  app.get("/queues", (c) => {
    const queues = [...observer.recorder.state.queues.values()].map(({ window: _w, ...q }) => q);
    return c.json({ queues });
  });

  // Readers are bounded: each stream holds a buffer, each history read a segment's worth of
  // parsing; past the caps a client is told to come back (429, Retry-After), the observer stays up
  let reads = 0;
  let streams = 0;
  const busy = (what: string, limit: number, setting: string) =>
    Response.json(
      { error: `Too many ${what} at once (${limit}, ${setting}): try again shortly` },
      { status: 429, headers: { "retry-after": String(RETRY_AFTER_S) } },
    );

  app.get("/events", async (c) => {
    const since = nonNegativeInt(c.req.query("since"), 0, "since");
    const limit = Math.min(5_000, nonNegativeInt(c.req.query("limit"), 500, "limit"));
    if (reads >= observer.config.maxHistoryReads) {
      return busy("history reads", observer.config.maxHistoryReads, "OBSERVER_MAX_HISTORY_READS");
    }
    reads++;
    try {
      const events = await eventsSince(observer, since, limit);
      return c.json({ events, next_since: events.at(-1)?.seq ?? since });
    } finally {
      reads--;
    }
  });

  app.get("/events/stream", (c) => {
    const since = nonNegativeInt(
      c.req.query("since") ?? c.req.header("last-event-id"),
      observer.diff.durableSeq,
      "since",
    );
    if (streams >= observer.config.maxStreams) {
      return busy("event streams", observer.config.maxStreams, "OBSERVER_MAX_STREAMS");
    }
    streams++;
    return streamSSE(c, async (stream) => {
      try {
        await streamEvents(observer, since, stream);
      } finally {
        streams--;
      }
    });
  });

  return app;
}
