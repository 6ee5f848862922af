/**
 * The reader under seeded random damage: a history made by the observer's own code (with rate
 * limits, stuck handoffs and malformed records in it, rotated into segments, with snapshots) is
 * copied and damaged in one way per case (testdata/corruptions.ts), and `diagnose` answers on each
 * copy, in-process and, for a few, through the real CLI. An answer is a silent wrong answer when
 * its status or its top incident differs from the answer on the whole history while it neither
 * notes a problem (`reader_notes`, skipped lines, records out of order) nor says `unknown` or
 * `degraded`. There must be none; every answer must validate against the committed schema.
 */

import assert from "node:assert/strict";
import { generateHistory } from "../bench/history_generator.ts";
import { parseInvocation } from "./cli_args.ts";
import { runDiagnose } from "./commands.ts";
import type { Document } from "./output_document.ts";
import { outputProblems } from "./output_schema.ts";
import { CORRUPTIONS, random } from "./testdata/corruptions.ts";
import { oracle } from "./testing.ts";
import { TimeMachine } from "./time_machine.ts";

const SEED = Number(Deno.env.get("READER_FUZZ_SEED") ?? 17);
/** Cases per kind of damage, in-process; and how many go through the CLI as well */
const ROUNDS = Number(Deno.env.get("READER_FUZZ_ROUNDS") ?? 8);
const THROUGH_CLI = 4;

/**
 * The histories damaged: a long one failing (rate limits all along), a short one with one rate
 * limit in it (degraded: one damaged line can hide it), and one too short for any fault (healthy)
 */
const BASES = [
  {
    name: "failing",
    bytes: 1_300_000,
    segmentBytes: 150_000,
    snapshotEvery: 300,
    status: "failing",
  },
  {
    name: "one rate limit",
    bytes: 140_000,
    segmentBytes: 20_000,
    snapshotEvery: 40,
    status: "degraded",
  },
  { name: "healthy", bytes: 20_000, segmentBytes: 5_000, snapshotEvery: 20, status: "healthy" },
] as const;

interface Answer {
  status: string;
  top: string;
  noted: boolean;
  doc: Document;
}

function answerOf(doc: Document): Answer {
  const incidents = (doc["incidents"] ?? []) as {
    root_cause: { kind: string; agent: string | null };
  }[];
  const root = incidents[0]?.root_cause;
  return {
    status: String(doc["status"]),
    top: root === undefined ? "none" : `${root.kind}:${root.agent}`,
    noted: (doc.reader_notes?.total ?? 0) > 0 || doc.skipped_lines > 0 ||
      doc.out_of_order.records > 0,
    doc,
  };
}

async function diagnoseIn(dir: string): Promise<Answer> {
  const tm = await TimeMachine.open(dir);
  const inv = parseInvocation(["diagnose", "--data-dir", dir], { get: () => undefined });
  const doc = (await runDiagnose(tm, inv))(inv.limit);
  // As main.ts completes every document once the command has read all it reads
  Object.assign(doc, { skipped_lines: tm.report.total, ...tm.report.toJson(), limit: inv.limit });
  return answerOf(doc);
}

async function diagnoseCli(dir: string): Promise<Answer> {
  const r = await oracle(["diagnose", "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  return answerOf(JSON.parse(r.stdout));
}

async function copyDir(from: string): Promise<string> {
  const to = await Deno.makeTempDir({ prefix: "reader-fuzz-case-" });
  for await (const e of Deno.readDir(from)) {
    if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
  return to;
}

for (const history of BASES) {
  Deno.test(`no damage to a ${history.name} history makes diagnose answer wrong without saying so`, async () => {
    const base = await Deno.makeTempDir({ prefix: "reader-fuzz-" });
    try {
      await generateHistory({
        dir: base,
        bytes: history.bytes,
        start: Date.parse("2026-11-20T00:00:00Z"),
        stepMs: 150,
        segmentBytes: history.segmentBytes,
        snapshotEvery: history.snapshotEvery,
      });
      const whole = await diagnoseIn(base);
      assert.deepEqual(outputProblems(whole.doc), []);
      assert.equal(whole.noted, false, "the whole history has nothing to note");
      assert.equal(whole.status, history.status);
      const rng = random(SEED);
      const counts = { run: 0, detected: 0, unaffected: 0, silentWrong: 0, cli: 0 };
      const silent: string[] = [];
      const invalid: string[] = [];
      const byKind = new Map<string, { detected: number; unaffected: number; silent: number }>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const [kind, corrupt] of Object.entries(CORRUPTIONS)) {
          const dir = await copyDir(base);
          try {
            const what = await corrupt(dir, rng);
            const cli = round < THROUGH_CLI &&
              ["missing middle segment", "future time on the last line", "fractional seq"]
                .includes(kind);
            const answers = [await diagnoseIn(dir), ...(cli ? [await diagnoseCli(dir)] : [])];
            if (cli) counts.cli++;
            const tally = byKind.get(kind) ?? { detected: 0, unaffected: 0, silent: 0 };
            byKind.set(kind, tally);
            for (const a of answers) {
              const problems = outputProblems(a.doc);
              if (problems.length > 0) invalid.push(`${kind} (${what}): ${problems[0]}`);
              counts.run++;
              const same = a.status === whole.status && a.top === whole.top;
              // Degraded says something is off, unless the whole history is degraded too
              const said = a.noted || a.status === "unknown" ||
                (a.status === "degraded" && whole.status !== "degraded");
              if (said) {
                counts.detected++;
                tally.detected++;
              } else if (same) {
                counts.unaffected++;
                tally.unaffected++;
              } else {
                counts.silentWrong++;
                tally.silent++;
                silent.push(
                  `${kind} (${what}): ${a.status} ${a.top}, not ${whole.status} ${whole.top}`,
                );
              }
            }
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        }
      }
      console.log(
        `reader fuzz, ${history.name} history (seed ${SEED}): ${counts.run} cases run ` +
          `(${counts.cli} through the CLI), ${counts.detected} detected, ` +
          `${counts.unaffected} unaffected, ${counts.silentWrong} silent wrong, ` +
          `${invalid.length} not valid against the schema`,
      );
      for (const [kind, t] of byKind) {
        console.log(
          `  ${kind}: ${t.detected} detected, ${t.unaffected} unaffected, ${t.silent} silent`,
        );
      }
      assert.deepEqual(silent, [], "silent wrong answers");
      assert.deepEqual(invalid, [], "answers that do not validate");
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  });
}
