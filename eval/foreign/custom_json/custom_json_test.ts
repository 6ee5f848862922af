/**
 * The custom-JSON system run for real: its Python agents as processes on the broker at
 * KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), asked through its own client, with the faults
 * its FOREIGN_FAULTS injects, then every record it wrote read back from its topics.
 */

import assert from "node:assert/strict";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { createMissingTopics } from "@mat/agents/kafkajs";
import { textLines } from "@mat/agents/lines";
import type { ForeignAnswer } from "../foreign_system.ts";
import { AGENTS, customJson, PARTITIONS, topic, topics } from "./system.ts";
import { until } from "../../until.ts";

const BOOTSTRAP = Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092";
const PROMPTS = [
  "Checkout returns 500 for carts over 50 items",
  "Search results are empty for quoted phrases",
  "Password reset mails arrive twice",
  "Invoices show the wrong currency for CHF",
  "Push notifications lag by ten minutes",
  "Login loops after a session expires",
];
const EVENTS = ["job.requested", "job.completed", "job.failed", "job.progress"] as const;

/** A record as read back from a topic */
interface ReadRecord {
  topic: string;
  key: string | undefined;
  headers: Record<string, string>;
  value: Record<string, unknown>;
}

interface AgentProcess {
  child: Deno.ChildProcess;
  done: Promise<Deno.CommandStatus>;
}

/** One run of the system: its topics, its three agents as processes, its dispatcher's state */
class Deployment {
  readonly lines: string[] = [];
  readonly processes = new Map<string, AgentProcess>();
  readonly #forwarding: Promise<void>[] = [];

  private constructor(
    readonly run: string,
    readonly admin: Admin,
    readonly kafka: Kafka,
    readonly stateDir: string,
    readonly env: Record<string, string>,
  ) {}

  static async start(faults: string, env: Record<string, string> = {}): Promise<Deployment> {
    await customJson.install(() => {});
    const run = `cjt${crypto.randomUUID().slice(0, 8)}`;
    const kafka = new Kafka({
      clientId: `custom-json-test-${run}`,
      brokers: BOOTSTRAP.split(","),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const stateDir = await Deno.makeTempDir({ prefix: "custom-json-state-" });
    const d = new Deployment(run, admin, kafka, stateDir, {
      ...customJson.env(run),
      KAFKA_BOOTSTRAP_SERVERS: BOOTSTRAP,
      FOREIGN_FAULTS: faults,
      OPS_STATE_DIR: stateDir,
      ...env,
    });
    try {
      await createMissingTopics(admin, topics(run), PARTITIONS);
      for (const agent of AGENTS) d.spawn(agent);
      for (const agent of AGENTS) await d.waitForMembers(agent, (n) => n > 0);
      return d;
    } catch (err) {
      await d.close();
      throw err;
    }
  }

  spawn(agent: string): void {
    const [program, ...args] = customJson.command(agent);
    assert.ok(program !== undefined);
    const child = new Deno.Command(program, {
      args,
      env: this.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const forward = async (stream: ReadableStream<Uint8Array>) => {
      for await (const line of textLines(stream)) this.lines.push(line);
    };
    this.#forwarding.push(forward(child.stdout), forward(child.stderr));
    this.processes.set(agent, { child, done: child.status });
  }

  /** Waits until the broker says the agent's group has a number of members `ok` accepts */
  async waitForMembers(agent: string, ok: (members: number) => boolean): Promise<void> {
    const groupId = customJson.group(agent, this.run);
    await until(`${groupId} in the state asked for`, async () => {
      const { groups } = await this.admin.describeGroups([groupId]);
      const g = groups[0];
      if (g === undefined) return undefined;
      const stable = g.state === "Stable" || g.state === "Empty" || g.state === "Dead";
      return stable && ok(g.members.length) ? true : undefined;
    }, 90_000);
  }

  ask(prompts: string[], timeoutMs = 60_000): Promise<ForeignAnswer[]> {
    return customJson.ask(BOOTSTRAP, this.run, prompts, timeoutMs);
  }

  /** Sends SIGTERM to every agent; their exit statuses */
  async stop(): Promise<Map<string, Deno.CommandStatus>> {
    const statuses = new Map<string, Deno.CommandStatus>();
    for (const [agent, p] of this.processes) {
      p.child.kill("SIGTERM");
      statuses.set(agent, await p.done);
    }
    this.processes.clear();
    return statuses;
  }

  /** Every record of the run's topics, read from the beginning to the high watermarks */
  async records(): Promise<ReadRecord[]> {
    let total = 0;
    for (const t of topics(this.run)) {
      for (const p of await this.admin.fetchTopicOffsets(t)) total += Number(p.high);
    }
    const out: ReadRecord[] = [];
    const consumer = this.kafka.consumer({ groupId: `custom-json-test-reader-${this.run}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: topics(this.run), fromBeginning: true });
      await consumer.run({
        eachMessage: ({ topic, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, v] of Object.entries(message.headers ?? {})) {
            if (v !== undefined) headers[name] = String(v);
          }
          const value: unknown = JSON.parse(message.value?.toString() ?? "null");
          assert.ok(typeof value === "object" && value !== null && !Array.isArray(value));
          out.push({
            topic,
            key: message.key?.toString(),
            headers,
            value: value as Record<string, unknown>,
          });
          return Promise.resolve();
        },
      });
      await until(`${total} records read`, () => out.length >= total ? true : undefined);
    } finally {
      await consumer.disconnect();
    }
    return out;
  }

  async close(): Promise<void> {
    // SIGTERM first, so that each consumer leaves its group and the group can be deleted
    for (const p of this.processes.values()) {
      try {
        p.child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 15_000));
      if (await Promise.race([p.done, late]) === "late") p.child.kill("SIGKILL");
      clearTimeout(timer);
      await p.done;
    }
    this.processes.clear();
    await Promise.all(this.#forwarding);
    // cleanup: a topic never created, or a group never made, leaves nothing to delete
    await this.admin.deleteTopics({ topics: topics(this.run) }).catch(() => {});
    const groups = [
      ...AGENTS.map((agent) => customJson.group(agent, this.run)),
      `custom-json-test-reader-${this.run}`,
    ];
    for (const group of groups) {
      // cleanup: a group never made has nothing to delete
      await this.admin.deleteGroups([group]).catch(() => {});
    }
    await this.admin.disconnect();
    await Deno.remove(this.stateDir, { recursive: true }).catch(() => {});
  }
}

async function withDeployment(
  faults: string,
  test: (d: Deployment) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const d = await Deployment.start(faults, env);
  try {
    await test(d);
  } catch (err) {
    console.error(d.lines.slice(-60).join("\n"));
    throw err;
  } finally {
    await d.close();
  }
}

function outcomes(answers: ForeignAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a.outcome] = (counts[a.outcome] ?? 0) + 1;
  return counts;
}

/** The agent whose topic a record is on */
function agentOf(run: string, t: string): string {
  const agent = [...AGENTS, customJson.userInbox].find((a) => topic(a, run) === t);
  assert.ok(agent !== undefined, `record on a topic of no agent: ${t}`);
  return agent;
}

/** Checks a record is the team's format: sender header, job id key, the v2 fields */
function assertFormat(run: string, r: ReadRecord): void {
  const v = r.value;
  const where = `${r.topic} ${JSON.stringify(v)}`;
  assert.equal(v["v"], 2, where);
  assert.ok(EVENTS.some((e) => e === v["event"]), where);
  for (const field of ["id", "job", "session", "from", "to"]) {
    assert.equal(typeof v[field], "string", `${field} of ${where}`);
  }
  assert.equal(r.headers["x-sender"], v["from"], `x-sender of ${where}`);
  assert.equal(r.key, v["job"], `key of ${where}`);
  assert.equal(v["to"], agentOf(run, r.topic), `to of ${where}`);
  assert.ok(Number.isInteger(v["at"]) && Number(v["at"]) > 1_600_000_000_000, `at of ${where}`);
  assert.ok(Number.isInteger(v["try"]) && Number(v["try"]) >= 1, `try of ${where}`);
  assert.equal(typeof v["body"], "object", `body of ${where}`);
  if (v["event"] === "job.requested") {
    assert.equal(v["reply_to"], undefined, where);
  } else {
    assert.equal(typeof v["reply_to"], "string", `reply_to of ${where}`);
  }
}

function eventsOn(records: ReadRecord[], t: string, event: string): ReadRecord[] {
  return records.filter((r) => r.topic === t && r.value["event"] === event);
}

Deno.test({
  name: "custom-json answers six jobs, each through triage and fixer, in the team's own format",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDeployment("", async (d) => {
      const answers = await d.ask(PROMPTS);
      assert.deepEqual(outcomes(answers), { completed: 6 });
      for (const a of answers) assert.match(a.text, /^triage: .+; fix: patched /);

      const statuses = await d.stop();
      for (const [agent, s] of statuses) assert.equal(s.code, 0, `${agent} exit code`);
      for (const agent of AGENTS) assert.ok(d.lines.includes(`${agent}: stopped`), agent);

      const records = await d.records();
      for (const r of records) assertFormat(d.run, r);
      const t = (agent: string) => topic(agent, d.run);
      const requests = eventsOn(records, t("dispatcher"), "job.requested");
      assert.deepEqual(
        requests.map((r) => r.value["id"]).sort(),
        answers.map((a) => a.request).sort(),
      );
      for (const worker of ["triage", "fixer"]) {
        const asked = eventsOn(records, t(worker), "job.requested");
        const done = eventsOn(records, t("dispatcher"), "job.completed")
          .filter((r) => r.value["from"] === worker);
        assert.equal(asked.length, 6, worker);
        assert.deepEqual(
          done.map((r) => r.value["reply_to"]).sort(),
          asked.map((r) => r.value["id"]).sort(),
          `${worker}'s answers reply to its requests`,
        );
        for (const r of asked) {
          assert.equal(r.value["from"], "dispatcher");
          assert.ok(Number(r.value["due"]) > Number(r.value["at"]), "a step has a due time");
        }
        for (const r of done) {
          const llm = r.value["llm"] as Record<string, unknown>;
          assert.equal(typeof llm["model"], "string");
          for (const n of ["tokens_in", "tokens_out", "cost", "ms"]) {
            assert.equal(typeof llm[n], "number", n);
          }
        }
      }
      const final = eventsOn(records, t("desk"), "job.completed");
      assert.deepEqual(
        final.map((r) => r.value["reply_to"]).sort(),
        answers.map((a) => a.request).sort(),
      );
      // every session is one request's, through all its steps
      const sessions = new Set(requests.map((r) => r.value["session"]));
      assert.equal(sessions.size, 6);
      for (const r of records) assert.ok(sessions.has(r.value["session"]), "a known session");
    });
  },
});

Deno.test({
  name: "custom-json fails every third fixer job as an upstream 429, the rest complete",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDeployment("fixer=fail429(every=3)", async (d) => {
      const answers = await d.ask(PROMPTS);
      assert.deepEqual(outcomes(answers), { completed: 4, failed: 2 });
      for (const a of answers.filter((a) => a.outcome === "failed")) {
        assert.equal(a.text, "fixer: 429 Too Many Requests from model provider");
      }
      await d.stop();
      const records = await d.records();
      for (const r of records) assertFormat(d.run, r);
      const failed = records.filter((r) => r.value["event"] === "job.failed");
      // the fixer's two failures, and the dispatcher's two answers that pass them on
      assert.deepEqual(failed.map((r) => r.value["from"]).sort(), [
        "dispatcher",
        "dispatcher",
        "fixer",
        "fixer",
      ]);
      for (const r of failed) {
        const failure = r.value["failure"] as Record<string, unknown>;
        assert.equal(failure["code"], "RATE_LIMITED");
        assert.equal(failure["retry"], true);
        assert.match(String(failure["detail"]), /429 Too Many Requests from model provider$/);
        assert.equal(r.value["llm"], undefined);
      }
    });
  },
});

Deno.test({
  name: "custom-json answers input_required while triage waits on a human, the job left open",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDeployment("triage=input_required", async (d) => {
      const answers = await d.ask(PROMPTS.slice(0, 2));
      assert.deepEqual(outcomes(answers), { input_required: 2 });
      await d.stop();
      assert.ok(d.lines.includes("dispatcher: stopping, 2 job(s) open"));
      const records = await d.records();
      for (const r of records) assertFormat(d.run, r);
      const progress = records.filter((r) => r.value["event"] === "job.progress");
      assert.deepEqual(progress.map((r) => `${r.value["from"]}>${r.value["to"]}`).sort(), [
        "dispatcher>desk",
        "dispatcher>desk",
        "triage>dispatcher",
        "triage>dispatcher",
      ]);
      for (const r of progress) assert.equal(r.value["status"], "needs_human");
      // never done: no answer but the progress, no work handed to the fixer
      assert.equal(records.filter((r) => r.value["event"] === "job.completed").length, 0);
      assert.equal(records.filter((r) => r.topic === topic("fixer", d.run)).length, 0);
    });
  },
});

Deno.test({
  name: "custom-json finishes the jobs a dispatcher killed with SIGKILL had open, once restarted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDeployment("triage=slow(ms=1500)", async (d) => {
      const asked = d.ask(PROMPTS.slice(0, 3), 90_000);
      // triage works on all three at once: the dispatcher has handed each of them off
      await until(
        "triage at work on the three jobs",
        () => d.lines.filter((l) => l.startsWith("triage: working on")).length >= 3 || undefined,
      );
      const dispatcher = d.processes.get("dispatcher");
      assert.ok(dispatcher !== undefined);
      dispatcher.child.kill("SIGKILL");
      assert.equal((await dispatcher.done).signal, "SIGKILL");
      d.spawn("dispatcher");
      const answers = await asked;
      assert.deepEqual(outcomes(answers), { completed: 3 });
      assert.ok(
        d.lines.some((l) => /^dispatcher: consuming .* [1-3] job\(s\) open$/.test(l)),
        "the restarted dispatcher found the jobs open",
      );
    });
  },
});

Deno.test({
  name: "custom-json answers once a fixer frozen by SIGSTOP past its session is continued",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Steps may wait long: the point is that the frozen fixer comes back, not a timeout
    await withDeployment("", async (d) => {
      const fixer = d.processes.get("fixer");
      assert.ok(fixer !== undefined);
      Deno.kill(fixer.child.pid, "SIGSTOP");
      try {
        const asked = d.ask(PROMPTS.slice(0, 2), 120_000);
        await d.waitForMembers("fixer", (n) => n === 0);
        Deno.kill(fixer.child.pid, "SIGCONT");
        const answers = await asked;
        assert.deepEqual(outcomes(answers), { completed: 2 });
        await d.waitForMembers("fixer", (n) => n > 0);
      } finally {
        Deno.kill(fixer.child.pid, "SIGCONT");
      }
    }, { OPS_STEP_TIMEOUT_MS: "120000" });
  },
});

Deno.test({
  name: "custom-json tries a step again past its due time, then fails the job with TIMEOUT",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDeployment("triage=slow(ms=60000)", async (d) => {
      const answers = await d.ask(PROMPTS.slice(0, 1));
      assert.deepEqual(outcomes(answers), { failed: 1 });
      assert.match(
        answers[0]?.text ?? "",
        /^triage did not answer job job-\w+ in 2000 ms \(2 tries\)$/,
      );
      // a triage in the middle of a job stops on SIGTERM all the same
      const statuses = await d.stop();
      for (const [agent, s] of statuses) assert.equal(s.code, 0, `${agent} exit code`);
      const records = await d.records();
      for (const r of records) assertFormat(d.run, r);
      const tries = eventsOn(records, topic("triage", d.run), "job.requested");
      assert.deepEqual(tries.map((r) => r.value["try"]).sort(), [1, 2]);
      assert.equal(new Set(tries.map((r) => r.value["job"])).size, 1, "one job, tried twice");
      assert.equal(new Set(tries.map((r) => r.value["id"])).size, 2, "each try a message");
      const [failed] = eventsOn(records, topic("desk", d.run), "job.failed");
      assert.deepEqual(failed?.value["failure"], {
        code: "TIMEOUT",
        detail: answers[0]?.text,
        retry: true,
      });
    }, { OPS_STEP_TIMEOUT_MS: "2000" });
  },
});
