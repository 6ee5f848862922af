/** The oracle as a subprocess, with read-only permissions, under NO_COLOR. */

import assert from "node:assert/strict";
import { COMMANDS } from "./cli_args.ts";
import { outputProblems } from "./output_schema.ts";
import { oracle } from "./testing.ts";

function line(seq: number, ts: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema_version: 1,
    seq,
    ts,
    type: "observer_started",
    pid: 42,
    resumed_partitions: 0,
    torn_bytes_cut: 0,
    positions: [],
    ...extra,
  });
}

Deno.test("every command has --help with an example", async () => {
  for (const command of [...COMMANDS, undefined]) {
    const r = await oracle(command ? [command, "--help"] : ["--help"]);
    assert.equal(r.code, 0, `${command} --help`);
    assert.match(r.stdout, /Usage: deno task oracle/);
    assert.match(r.stdout, /Example:\n {2}deno task oracle /);
    assert.equal(r.stderr, "");
  }
});

Deno.test("usage errors exit 2 with one error line on stderr and nothing on stdout", async () => {
  for (
    const args of [
      ["diagnoze"],
      ["errors", "--sev", "x"],
      ["diffs", "-l", "-3"],
      ["trace"],
      ["diffs", "--after", "99999999999d"],
      ["state", "--data-dir", ""],
      ["replay", "-l", "-5"],
    ]
  ) {
    const r = await oracle(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: .+\nRun "deno task oracle --help" for usage\n$/);
  }
});

Deno.test("a missing data directory is a data error, exit 1, no stack trace", async () => {
  const r = await oracle(["diagnose", "--data-dir", "/nonexistent/telemetry"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `error: Data directory "/nonexistent/telemetry" does not exist: run the observer (deno task observe) or point TELEMETRY_DATA_DIR or --data-dir at its files\n`,
  );
});

Deno.test("an empty history is reported as such, and its JSON validates", async () => {
  const dir = await Deno.makeTempDir();
  const r = await oracle(["diagnose", "-f", "json"], { TELEMETRY_DATA_DIR: dir });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), []);
  assert.equal(doc.status, "degraded");
  assert.equal(doc.incidents[0].root_cause.kind, "observer_degraded");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("corrupt, torn and newer-schema lines are skipped, counted and reported on stderr", async () => {
  const dir = await Deno.makeTempDir();
  const now = new Date().toISOString();
  await Deno.writeTextFile(
    `${dir}/diff_time_machine.jsonl`,
    [
      line(1, now),
      "{broken",
      line(2, now, { schema_version: 2 }),
      line(3, now),
    ].join("\n") + "\n" + line(4, now).slice(0, 30),
  );
  for (const command of COMMANDS) {
    const args = command === "trace" ? [command, "conv-x"] : [command];
    const r = await oracle([...args, "--format", "json", "--data-dir", dir]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(outputProblems(doc), [], command);
  }
  const r = await oracle(["diffs", "-f", "json", "--data-dir", dir]);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.events.map((e: { seq: number }) => e.seq), [1, 3]);
  assert.equal(doc.skipped_lines, 3);
  assert.match(
    r.stderr,
    /^warning: skipped 1 corrupt, 1 torn \(incomplete last line\), 1 from a newer schema version line\(s\) at .*diff_time_machine\.jsonl:\d+/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--format json is accepted after diffs and anywhere else", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/diff_time_machine.jsonl`,
    line(1, new Date().toISOString()) + "\n",
  );
  for (
    const args of [["diffs", "--format", "json"], ["-f", "json", "diffs"], [
      "diffs",
      "-l",
      "5",
      "-f",
      "json",
    ]]
  ) {
    const r = await oracle([...args, "--data-dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).command, "diffs");
  }
  await Deno.remove(dir, { recursive: true });
});
