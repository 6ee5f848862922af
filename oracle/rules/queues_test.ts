import assert from "node:assert/strict";
import {
  completed,
  facts,
  proc,
  queues,
  retried,
  runtime,
  sample,
  series,
  stuck,
  task,
} from "../testdata/facts.ts";
import { queueRules } from "./queues.ts";
import { episodesOf } from "./queue_episodes.ts";

const O = "oracle";
const ok = () => ({});

Deno.test("episodes are runs of samples that are not OK, over or ongoing", () => {
  const s = series("writer", 0, 9, (t) => (t >= 3 && t <= 5) || t >= 8 ? { status: "STALL" } : {});
  const episodes = episodesOf("writer", s);
  assert.equal(episodes.length, 2);
  assert.equal(episodes[0]?.samples.length, 3);
  assert.equal(episodes[0]?.endedBy?.ts, s[6]?.ts);
  assert.equal(episodes[1]?.endedBy, undefined);
});

Deno.test("every queue unreadable at once is the broker; one group unreadable briefly is nothing", () => {
  const broker = facts({
    queues: new Map(["writer", "coder"].map((a) => [
      a,
      series(a, 0, 10, (t) => t >= 3 && t <= 6 ? { status: "ERR", members: 0 } : {}),
    ])),
  });
  const [finding, ...rest] = queueRules(broker, O);
  assert.equal(finding?.kind, "broker_unavailable");
  assert.equal(finding?.severity, "info", "over, and it cost nothing");
  assert.equal(rest.length, 0);

  const brief = facts({
    queues: new Map([
      ["writer", series("writer", 0, 10, (t) => t === 2 ? { status: "ERR", members: 0 } : {})],
      ["coder", series("coder", 0, 10, ok)],
    ]),
  });
  assert.deepEqual(queueRules(brief, O), []);
});

Deno.test("a queue whose group never had a member is unread; one read before is not", () => {
  const never = facts({
    queues: new Map([[
      "auditor",
      series("auditor", 0, 5, (t) => ({
        status: t > 1 ? "STOP" : "OK",
        members: 0,
        committed: null,
        lag: 3,
        high: "3",
      })),
    ]]),
  });
  const [finding] = queueRules(never, O);
  assert.equal(finding?.kind, "unroutable_task");
  assert.equal(finding?.severity, "critical");
  assert.equal(finding?.impact.messages_waiting, 3);

  const readBefore = facts({
    queues: new Map([[
      "writer",
      series("writer", 0, 5, (t) => t > 1 ? { status: "STOP", members: 0, lag: 2 } : {}),
    ]]),
  });
  assert.notEqual(queueRules(readBefore, O)[0]?.kind, "unroutable_task");
});

Deno.test("a consumer gone while its process runs is frozen; gone with its process is down", () => {
  const queue = () =>
    new Map([[
      "coder",
      series("coder", 0, 8, (t) => t > 2 ? { status: "STOP", members: 0, lag: 2 } : {}),
    ]]);
  const frozen = facts({ queues: queue() });
  frozen.end.processes = [proc("coder", 100)];
  assert.equal(queueRules(frozen, O)[0]?.kind, "consumer_stalled");

  const dead = facts({
    queues: queue(),
    runtime: [runtime("coder", 2, "exited", { signal: "SIGKILL", exit_code: 137 })],
  });
  dead.end.processes = [proc("coder", 100, { status: "exited" })];
  assert.equal(queueRules(dead, O)[0]?.kind, "agent_down");
});

Deno.test("retrying tasks whose replies already sat in its own queue is saturation", () => {
  const t = task("c1", "researcher");
  const queue = new Map([[
    "orchestrator",
    series("orchestrator", 0, 10, (s) => s > 2 ? { status: "STALL", lag: 5 + s } : {}),
  ]]);
  const early = completed(t, 3);
  const saturated = facts({
    queues: queue,
    retried: [retried(t, 8)],
    replies: new Map([[t.task_message_id, early]]),
  });
  const [finding] = queueRules(saturated, O);
  assert.equal(finding?.kind, "agent_saturated");
  assert.deepEqual(finding?.conversations, ["c1"]);

  // The reply came after the retry: the orchestrator gave up first, it did not ignore a reply.
  const retry = retried(t, 5);
  const late = facts({
    queues: queue,
    retried: [retry],
    replies: new Map([[t.task_message_id, completed(t, 9)]]),
  });
  assert.notEqual(queueRules(late, O)[0]?.kind, "agent_saturated");
});

Deno.test("a stall that cost a handoff is a warning; one that cost nothing is info", () => {
  const queue = () =>
    new Map([[
      "writer",
      series("writer", 0, 10, (s) => s >= 3 && s <= 6 ? { status: "STALL", lag: 2 } : {}),
    ]]);
  const costly = facts({ queues: queue(), stuck: [stuck(task("c1", "writer"), 5)] });
  assert.equal(queueRules(costly, O)[0]?.severity, "warning");
  assert.equal(queueRules(facts({ queues: queue() }), O)[0]?.severity, "info");
});

Deno.test("a consumer that commits but falls behind is a backlog", () => {
  const behind = facts({
    queues: new Map([[
      "writer",
      series("writer", 0, 5, (s) => s > 1 ? { status: "WARN", lag: s * 3 } : {}),
    ]]),
  });
  const [finding] = queueRules(behind, O);
  assert.equal(finding?.kind, "queue_backlog");
  assert.equal(finding?.severity, "warning");
  assert.deepEqual(
    queueRules(facts({ queues: new Map([["writer", series("writer", 0, 5, ok)]]) }), O),
    [],
  );
});

Deno.test("sampling that stalls around an unreadable group is the broker gone, then back", () => {
  const gap = (a: string) => [
    ...series(a, 0, 5, ok),
    ...series(a, 20, 25, ok),
  ];
  const f = facts({
    queues: new Map([
      [
        "writer",
        [...gap("writer"), sample("writer", 12, { status: "ERR", members: 0 })]
          .sort((x, y) => x.ts.localeCompare(y.ts)),
      ],
      ["coder", gap("coder")],
    ]),
  });
  const [finding] = queueRules(f, O);
  assert.equal(finding?.kind, "broker_unavailable");
  assert.equal(finding?.severity, "info");
  // The same gap with no unreadable group: nothing to say (the observer may have paused).
  const quiet = facts({ queues: new Map([["writer", gap("writer")], ["coder", gap("coder")]]) });
  assert.deepEqual(queueRules(quiet, O), []);
});

Deno.test("tasks sent to a queue never read are unroutable before any sample shows them", () => {
  const unconsumed = {
    agent: "auditor",
    topic: "agent-queue-auditor",
    count: 1,
    seqs: [6],
    ts: "2026-11-29T10:00:02.000Z",
  };
  const never = facts({
    unconsumed: [unconsumed],
    queues: new Map([[
      "auditor",
      series("auditor", 0, 1, () => ({ members: 0, committed: null })),
    ]]),
  });
  assert.equal(queueRules(never, O)[0]?.kind, "unroutable_task");
  // The same task on a queue read before: its consumer is gone, which the episodes tell.
  const readBefore = facts({
    unconsumed: [{ ...unconsumed, agent: "writer" }],
    queues: new Map([["writer", series("writer", 0, 1, ok)]]),
  });
  assert.deepEqual(queueRules(readBefore, O), []);
});

const SEARCH = ["a2a-search", "search-audit"];

Deno.test("a queue read by two groups is judged per group: only the one without a member is named", () => {
  const reading = series("search", 0, 10, () => ({
    group: "a2a-search",
    source: "broker-members",
    topicGroups: SEARCH,
  }));
  const stopped = series("search", 0, 10, (t) => ({
    group: "search-audit",
    source: t > 2 ? "broker-offsets" : "broker-members",
    topicGroups: SEARCH,
    ...(t > 2 ? { status: "STOP", members: 0, lag: 4, committed: "6" } : {}),
  }));
  const findings = queueRules(facts({ queues: queues(reading, stopped) }), O);
  assert.equal(findings.length, 1, JSON.stringify(findings));
  // Judged the same when the reading group's last sample came just before the other's first
  // (the groups of one poll are sampled one after the other)
  const early = queueRules(facts({ queues: queues(reading.slice(0, 3), stopped) }), O);
  assert.equal(early[0]?.kind, "consumer_stalled", JSON.stringify(early));
  const [finding] = findings;
  assert.equal(finding?.kind, "consumer_stalled");
  assert.equal(finding?.severity, "error");
  assert.equal(finding?.agent, "search");
  assert.match(
    finding?.summary ?? "",
    /^Group "search-audit" \(found by its committed offsets\) had no member since .* while 4 messages waited for it on "agent-queue-search", which group "a2a-search" read meanwhile/,
  );
  assert.equal(finding?.impact.messages_waiting, 4);
  // Both groups reading: nothing to say
  const both = series("search", 0, 10, () => ({
    group: "search-audit",
    source: "broker-members",
    topicGroups: SEARCH,
  }));
  assert.deepEqual(queueRules(facts({ queues: queues(reading, both) }), O), []);
});

Deno.test("a queue no group reads is unroutable, and the finding invents no group", () => {
  const unread = series("summarizer", 0, 5, (t) => ({
    group: "",
    source: "none",
    topicGroups: [],
    members: 0,
    committed: null,
    lag: 3,
    high: "3",
    status: t > 0 ? "STOP" : "OK",
  }));
  const [finding, ...rest] = queueRules(facts({ queues: queues(unread) }), O);
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, "unroutable_task");
  assert.equal(finding?.severity, "critical");
  assert.match(
    finding?.summary ?? "",
    /^Nobody ever read "agent-queue-summarizer": no consumer group reads the topic, while 3 messages wait/,
  );
  assert.doesNotMatch(finding?.summary ?? "", /group "/);
  // Tasks counted unconsumed before any sample showed the lag: the same words
  const early = facts({
    unconsumed: [{
      agent: "summarizer",
      topic: "agent-queue-summarizer",
      count: 2,
      seqs: [9, 10],
      ts: "2026-11-29T10:00:02.000Z",
    }],
    queues: queues(series("summarizer", 0, 1, () => ({
      group: "",
      source: "none",
      topicGroups: [],
      members: 0,
      committed: null,
    }))),
  });
  assert.match(queueRules(early, O)[0]?.summary ?? "", /no consumer group reads it\)$/);
});

Deno.test("a declared group the broker never saw read the queue is unroutable, named as declared", () => {
  const declared = series("summarizer", 0, 5, (t) => ({
    group: "a2a-summarizer",
    source: "declared",
    topicGroups: ["a2a-summarizer"],
    members: 0,
    committed: null,
    lag: 2,
    high: "2",
    status: t > 0 ? "STOP" : "OK",
  }));
  const [finding] = queueRules(facts({ queues: queues(declared) }), O);
  assert.equal(finding?.kind, "unroutable_task");
  assert.match(
    finding?.summary ?? "",
    /group "a2a-summarizer" \(declared in OBSERVER_GROUPS\) never had a member nor committed/,
  );
});

Deno.test("an unread queue's series ends when a group is found reading it: over, and info", () => {
  const before = series("coder", 0, 3, () => ({
    group: "",
    source: "none",
    topicGroups: [],
    members: 0,
    committed: null,
    lag: 2,
    high: "2",
    status: "STOP",
  }));
  const after = series("coder", 4, 10, () => ({
    group: "coders",
    source: "broker-members",
    topicGroups: ["coders"],
  }));
  const [finding, ...rest] = queueRules(facts({ queues: queues(before, after) }), O);
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, "agent_down");
  assert.equal(finding?.severity, "info", "over, and it cost nothing");
  assert.equal(finding?.until, after[0]?.ts);
  assert.match(finding?.summary ?? "", /until group "coders" was found reading it/);
});

Deno.test("every queue unreadable is the broker, whatever the number of groups reading each", () => {
  const err = (t: number) => t >= 3 && t <= 6 ? { status: "ERR" as const, members: 0 } : {};
  const broker = facts({
    queues: queues(
      // An unread queue's series that ended (a group was found) before the outage
      series("writer", 0, 1, () => ({ group: "", source: "none", topicGroups: [], members: 0 })),
      series("writer", 2, 10, (t) => ({ group: "w1", topicGroups: ["w1", "w2"], ...err(t) })),
      series("writer", 2, 10, (t) => ({ group: "w2", topicGroups: ["w1", "w2"], ...err(t) })),
      series("coder", 0, 10, (t) => ({ group: "c", topicGroups: ["c"], ...err(t) })),
    ),
  });
  const [finding, ...rest] = queueRules(broker, O);
  assert.equal(finding?.kind, "broker_unavailable");
  assert.equal(rest.length, 0);
  // One group of a queue unreadable while the other is read: no outage of the broker
  const one = facts({
    queues: queues(
      series("writer", 0, 10, (t) => ({ group: "w1", topicGroups: ["w1", "w2"], ...err(t) })),
      series("writer", 0, 10, () => ({ group: "w2", topicGroups: ["w1", "w2"] })),
      series("coder", 0, 10, (t) => ({ group: "c", topicGroups: ["c"], ...err(t) })),
    ),
  }, 10);
  assert.ok(queueRules(one, O).every((f) => f.kind !== "broker_unavailable"));
});
