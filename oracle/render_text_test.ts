import assert from "node:assert/strict";
import {
  dataDir,
  errorRecord,
  handoffFailed,
  handoffStarted,
  jsonl,
  message,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

/** A clear-screen, a cursor home, then a line forging the oracle's own verdict */
const FORGED = "\x1b[2J\x1b[H\nstatus: HEALTHY\r\t\u009b31m\x7f\x00done";
const ESCAPED = "\\x1b[2J\\x1b[H\\nstatus: HEALTHY\\r\\t\\x9b31m\\x7f\\x00done";
// Every C0 control but the newline that ends a line, DEL, and every C1 control
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

Deno.test("text output escapes control characters that come from records", async () => {
  const dir = await dataDir({
    diff: [
      jsonl(handoffStarted(1, 1)),
      jsonl(handoffFailed(2, 2, FORGED)),
      jsonl(errorRecord(3, 3, "coder", { message: FORGED })),
      jsonl(message(4, 4, { agent: FORGED, source: FORGED, target: "coder\u0085x" })),
    ].join(""),
  });
  for (
    const args of [["trace", "conv-trace"], ["diffs"], ["errors"], ["agents"], ["state"]]
  ) {
    const r = await oracle([...args, "--data-dir", dir]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, CONTROL, args.join(" "));
    assert.doesNotMatch(r.stdout, /^status: HEALTHY/m, args.join(" "));
    if (args[0] !== "state") assert.ok(r.stdout.includes(ESCAPED), args.join(" "));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("warnings on stderr escape control characters from the lines they quote", async () => {
  const bad = jsonl({ ...message(2, 2), msg_type: FORGED });
  const dir = await dataDir({ diff: jsonl(message(1, 1)) + bad });
  const r = await oracle(["diffs", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: skipped 1 invalid line/);
  assert.doesNotMatch(r.stderr, CONTROL);
  assert.doesNotMatch(r.stderr, /^status: HEALTHY/m);
  await Deno.remove(dir, { recursive: true });
});
