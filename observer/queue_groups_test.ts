/**
 * Which groups read a queue, as the real broker tells the observer: consumers of other names than
 * our runtime's (`agent-<agent>`), several groups on one queue, a queue nobody reads, a declared
 * group the broker does not know. The foreign consumers are real kafkajs consumers (the agents'
 * bus) that commit what they read, under group names of their own.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createEnvelope, encodeEnvelope, groupFor, KafkaBus, type Subscription } from "@mat/agents";
import { running, TestBed, waitFor } from "./testing.ts";
import type { DiffRecord } from "./record_format.ts";

function ofType<T extends DiffRecord["type"]>(records: DiffRecord[], type: T) {
  return records.filter((r): r is Extract<DiffRecord, { type: T }> => r.type === type);
}

function tasks(target: string, n: number, from = 0): { value: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    value: encodeEnvelope(createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target,
      conversation_id: `c${from + i}`,
      task_id: `t${from + i}`,
    })),
  }));
}

/** A consumer of a group of its own on a topic that commits every record it reads */
async function reader(bus: KafkaBus, groupId: string, topic: string): Promise<Subscription> {
  const sub: Subscription = await bus.consume({
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 6_000,
    onRecord: (r) => sub.commit(r.topic, r.partition, String(BigInt(r.offset) + 1n)),
  });
  return sub;
}

const unique = () => crypto.randomUUID().slice(0, 8);

Deno.test({
  name: "a queue read by a group of another name is sampled under that group, found by the broker",
  fn: async () => {
    const bed = await TestBed.create(["summarizer", "coder"], 2);
    const bus = new KafkaBus(bed.brokers, `foreign-${unique()}`);
    const foreign = `a2a-summarizer-${unique()}`;
    // Our own runtime's group, found the same way: by asking the broker, not by its name
    const own = groupFor("coder", bed.prefix);
    const subs = [
      await reader(bus, foreign, bed.topic("summarizer")),
      await reader(bus, own, bed.topic("coder")),
    ];
    const obs = await running(bed);
    try {
      const read = (agent: string, group: string) => async () =>
        ofType(await bed.diff(), "queue_sample").some((r) =>
          r.agent === agent && r.group === group && r.members.length > 0
        );
      await waitFor(read("summarizer", foreign), 30_000, "the foreign group's member");
      await waitFor(read("coder", own), 30_000, "the coder's member");
      await bed.kit.send(bed.topic("summarizer"), tasks("summarizer", 4));
      await waitFor(
        async () =>
          ofType(await bed.diff(), "queue_sample").some((r) =>
            r.agent === "summarizer" && r.group === foreign && r.lag === 0 &&
            r.partitions.reduce((n, p) => n + Number(p.high), 0) === 4
          ),
        30_000,
        "the four tasks consumed and committed",
      );
      const records = await bed.diff();
      const messages = ofType(records, "message").filter((m) => m.target === "summarizer");
      assert.equal(messages.length, 4);
      assert.ok(messages.every((m) => m.unconsumed === undefined), "no task is unconsumed");
      const samples = ofType(records, "queue_sample");
      const found = samples.filter((r) => r.agent === "summarizer" && r.group === foreign);
      assert.ok(found.length > 0);
      for (const s of found.filter((r) => r.members.length > 0)) {
        assert.equal(s.group_source, "broker-members");
        assert.deepEqual(s.topic_groups, [foreign]);
      }
      assert.ok(found.every((s) => s.status === "OK"), "every sample of the group is OK");
      assert.equal(found.at(-1)?.partitions.every((p) => p.committed !== null), true);
      const coder = samples.filter((r) => r.agent === "coder" && r.members.length > 0).at(-1);
      assert.equal(coder?.group, own);
      assert.equal(coder?.group_source, "broker-members");
      // No group invented by the convention, and the observer's own group is no reader
      assert.ok(!samples.some((r) => r.group === groupFor("summarizer", bed.prefix)));
      assert.ok(!samples.some((r) => r.group === obs.observer.config.groupId));
      // The state holds the group the broker named
      const state = [...obs.observer.recorder.state.queues.values()];
      assert.deepEqual(
        state.filter((q) => q.agent === "summarizer").map((q) => [q.group, q.status]),
        [[foreign, "OK"]],
      );
    } finally {
      await obs.stop();
      for (const s of subs) await s.stop();
      await bed.kit.deleteGroups([foreign, own]);
      await bus.close();
      await bed.close();
    }
  },
});

Deno.test({
  name: "a queue read by two groups is two series: the group that stopped is judged apart",
  fn: async () => {
    const bed = await TestBed.create(["search"], 1);
    const bus = new KafkaBus(bed.brokers, `foreign-${unique()}`);
    const search = `a2a-search-${unique()}`;
    const audit = `search-audit-${unique()}`;
    const topic = bed.topic("search");
    const reading = await reader(bus, search, topic);
    let auditing: Subscription | undefined = await reader(bus, audit, topic);
    const obs = await running(bed);
    try {
      await bed.kit.send(topic, tasks("search", 3));
      const last = (group: string) => async () =>
        ofType(await bed.diff(), "queue_sample").filter((r) => r.group === group).at(-1);
      await waitFor(
        async () => {
          const [a, b] = [await last(search)(), await last(audit)()];
          return a?.lag === 0 && b?.lag === 0 && a.partitions[0]?.high === "3";
        },
        30_000,
        "both groups caught up",
      );
      // The audit consumer leaves, its committed offsets stay; more work comes
      await auditing.stop();
      auditing = undefined;
      await bed.kit.send(topic, tasks("search", 5, 3));
      await waitFor(
        async () =>
          ofType(await bed.diff(), "queue_status_changed").some((r) =>
            r.group === audit && r.to === "STOP"
          ),
        30_000,
        "the audit group's STOP",
      );
      await waitFor(async () => (await last(search)())?.lag === 0, 30_000, "search caught up");
      const records = await bed.diff();
      const changes = ofType(records, "queue_status_changed");
      const stop = changes.find((r) => r.group === audit && r.to === "STOP");
      assert.equal(stop?.agent, "search");
      assert.equal(stop?.group_source, "broker-offsets", "found by its committed offsets");
      assert.ok(!changes.some((r) => r.group === search && r.to !== "OK"), "search stays OK");
      const b = await last(audit)();
      assert.equal(b?.lag, 5);
      assert.deepEqual(b?.members, []);
      assert.deepEqual(b?.partitions.map((p) => [p.high, p.committed]), [["8", "3"]]);
      assert.deepEqual(b?.topic_groups, [search, audit].sort());
      // The oracle, run on these files, names the stopped group and only it
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-env",
          fileURLToPath(new URL("../oracle/main.ts", import.meta.url)),
          "diagnose",
          "--format",
          "json",
          "--data-dir",
          bed.dataDir,
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const doc = JSON.parse(new TextDecoder().decode(out.stdout));
      const findings: { kind: string; agent: string | null; summary: string }[] = doc.incidents
        .flatMap((i: { root_cause: unknown; symptoms?: unknown[] }) => [
          i.root_cause,
          ...(i.symptoms ?? []),
        ]);
      const queueFindings = findings.filter((f) => f.agent === "search");
      assert.equal(queueFindings.length, 1, JSON.stringify(findings));
      assert.equal(queueFindings[0]?.kind, "consumer_stalled");
      assert.ok(
        queueFindings[0]?.summary.startsWith(
          `Group "${audit}" (found by its committed offsets) had no member`,
        ),
        queueFindings[0]?.summary,
      );
    } finally {
      await obs.stop();
      await auditing?.stop();
      await reading.stop();
      await bed.kit.deleteGroups([search, audit]);
      await bus.close();
      await bed.close();
    }
  },
});

Deno.test({
  name: "a queue nobody reads is sampled with no group, and the tasks sent to it are unconsumed",
  fn: async () => {
    const bed = await TestBed.create(["auditor"], 2);
    const obs = await running(bed);
    try {
      await waitFor(
        async () => ofType(await bed.diff(), "queue_sample").some((r) => r.agent === "auditor"),
        30_000,
        "a first sample",
      );
      await bed.kit.send(bed.topic("auditor"), tasks("auditor", 3));
      await waitFor(
        async () =>
          ofType(await bed.diff(), "queue_sample").some((r) =>
            r.agent === "auditor" && r.lag === 3
          ),
        30_000,
        "the three tasks waiting",
      );
      const records = await bed.diff();
      const samples = ofType(records, "queue_sample").filter((r) => r.agent === "auditor");
      for (const s of samples) {
        assert.equal(s.group, "");
        assert.equal(s.group_source, "none");
        assert.deepEqual(s.topic_groups, []);
        assert.deepEqual(s.members, []);
        assert.ok(s.partitions.every((p) => p.committed === null));
      }
      const waiting = samples.find((s) => s.lag === 3);
      assert.equal(waiting?.status, "STOP");
      assert.equal(
        waiting?.partitions.reduce((n, p) => n + Number(p.high), 0),
        3,
        "lag is every message in the topic",
      );
      const messages = ofType(records, "message");
      assert.equal(messages.length, 3);
      assert.ok(messages.every((m) => m.unconsumed === true), "every task is unconsumed");
      const stop = ofType(records, "queue_status_changed").find((r) => r.to === "STOP");
      assert.equal(stop?.group, "");
      assert.match(stop?.reason ?? "", /no group reads the topic/);
      assert.equal(stop?.group_source, "none");
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name: "a declared group is sampled though the broker does not know it, beside the groups it does",
  fn: async () => {
    const bed = await TestBed.create(["summarizer"], 1);
    const bus = new KafkaBus(bed.brokers, `foreign-${unique()}`);
    const known = `a2a-summarizer-${unique()}`;
    const declared = `summarizer-audit-${unique()}`;
    const sub = await reader(bus, known, bed.topic("summarizer"));
    const obs = await running(bed, { OBSERVER_GROUPS: `summarizer=${declared}` });
    try {
      await bed.kit.send(bed.topic("summarizer"), tasks("summarizer", 2));
      const last = async (group: string) =>
        ofType(await bed.diff(), "queue_sample").filter((r) => r.group === group).at(-1);
      await waitFor(
        async () => (await last(declared))?.lag === 2 && (await last(known))?.lag === 0,
        30_000,
        "the declared group's lag",
      );
      const d = await last(declared);
      assert.equal(d?.group_source, "declared");
      assert.equal(d?.group_state, "Dead", "the broker knows no such group");
      assert.equal(d?.status, "STOP");
      assert.deepEqual(d?.topic_groups, [known, declared].sort());
      assert.equal((await last(known))?.group_source, "broker-members");
      // Read by one of its groups: its tasks are not unconsumed
      const messages = ofType(await bed.diff(), "message");
      assert.ok(messages.every((m) => m.unconsumed === undefined));
    } finally {
      await obs.stop();
      await sub.stop();
      await bed.kit.deleteGroups([known]);
      await bus.close();
      await bed.close();
    }
  },
});
