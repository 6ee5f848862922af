/**
 * json_schema.ts (the CLI's check, no dependency) against ajv (output_schema.ts, what the tests
 * use): on every document the CLI prints for a varied history, and on thousands of documents
 * broken one place at a time, both must give the same verdict, over every keyword the schema uses.
 */

import assert from "node:assert/strict";
import { COMMANDS } from "./cli_args.ts";
import { validate } from "./json_schema.ts";
import { outputErrors, outputProblems } from "./output_schema.ts";
import schema from "./schema/oracle_output.schema.json" with { type: "json" };
import {
  dataDir,
  errorRecord,
  handoffFailed,
  handoffStarted,
  jsonl,
  message,
  observerStarted,
  queueSample,
  snapshot,
  stateAfter,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What every command prints, as JSON, for a history with messages, errors, queues and a handoff */
async function documents(): Promise<{ command: string; doc: Json }[]> {
  const records = [
    observerStarted(1, 0),
    message(2, 1),
    message(3, 2, { conversation_id: "conv-trace", msg_type: "TASK", agent: "coder" }),
    handoffStarted(4, 3),
    handoffFailed(5, 4, "the tool failed"),
    errorRecord(6, 5, "coder"),
    queueSample(7, 6, "coder"),
    queueSample(8, 7, "researcher", "25"),
    message(9, 8),
  ];
  const dir = await dataDir({
    diff: records.map(jsonl).join(""),
    state: jsonl(snapshot(1, 9, 9, stateAfter(records))),
  });
  try {
    const out: { command: string; doc: Json }[] = [];
    for (const command of COMMANDS) {
      const args = command === "trace" ? [command, "conv-trace"] : [command];
      const r = await oracle([...args, "-f", "json", "--data-dir", dir]);
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      out.push({ command, doc: JSON.parse(r.stdout) });
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `doc` broken at one place at a time: a value of another type or out of range, a key removed or added, an item added */
function* broken(doc: Json, path = "$"): Generator<{ where: string; doc: Json }> {
  const replaceWith = (value: Json): Json[] => {
    if (typeof value === "string") return [7, "not-a-known-value"];
    if (typeof value === "number") return ["7", -1, 1.5];
    if (typeof value === "boolean") return ["yes"];
    if (value === null) return [0, {}];
    return Array.isArray(value) ? [{}] : [[]];
  };
  for (const bad of replaceWith(doc)) yield { where: `${path} = ${JSON.stringify(bad)}`, doc: bad };
  if (Array.isArray(doc)) {
    for (const extra of [{}, "x"] as Json[]) {
      yield { where: `${path} + item ${JSON.stringify(extra)}`, doc: [...doc, extra] };
    }
    for (const [i, item] of doc.entries()) {
      for (const b of broken(item, `${path}[${i}]`)) {
        yield { where: b.where, doc: doc.map((v, j) => (j === i ? b.doc : v)) };
      }
    }
  } else if (doc !== null && typeof doc === "object") {
    yield { where: `${path} + key surprise`, doc: { ...doc, surprise: 1 } };
    for (const key of Object.keys(doc)) {
      const { [key]: _gone, ...rest } = doc;
      yield { where: `${path} - key ${key}`, doc: rest };
      for (const b of broken(doc[key] ?? null, `${path}.${key}`)) {
        yield { where: b.where, doc: { ...doc, [key]: b.doc } };
      }
    }
  }
}

/** Keywords of the schema that can fail a document (not annotations, not $defs' names) */
function assertionKeywords(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => assertionKeywords(n, out));
  else if (node !== null && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      const nested = key === "properties" || key === "$defs";
      if (!nested && !["$schema", "$id", "title", "description", "$ref"].includes(key)) {
        out.add(key);
      }
      if (nested && value !== null && typeof value === "object") {
        Object.values(value).forEach((v) => assertionKeywords(v, out));
      } else assertionKeywords(value, out);
    }
  }
  return out;
}

Deno.test("json_schema.ts and ajv agree on every document the oracle prints, and on each broken one", async () => {
  const docs = await documents();
  const disagreements: string[] = [];
  /** Keywords that failed a broken document, as the keyword or a step of the schema path */
  const exercised = new Set<string>();
  let checked = 0;
  for (const { command, doc } of docs) {
    assert.deepEqual(validate(schema, doc), [], `${command} passes json_schema.ts`);
    assert.deepEqual(outputProblems(doc), [], `${command} passes ajv`);
    for (const b of broken(doc)) {
      checked++;
      const ours = validate(schema, b.doc);
      const ajv = outputErrors(b.doc);
      if ((ours.length === 0) !== (ajv.length === 0)) {
        disagreements.push(
          `${command} ${b.where}: json_schema.ts ${ours[0]}; ajv ${JSON.stringify(ajv[0])}`,
        );
      }
      for (const e of ajv) {
        exercised.add(e.keyword);
        for (const step of e.schemaPath.split("/")) exercised.add(step);
      }
    }
  }
  assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length} of ${checked}`);
  // Every keyword the schema uses failed some broken document: the verdicts cover them all
  const used = [...assertionKeywords(schema)];
  assert.ok(used.includes("oneOf") && used.includes("minimum"), used.join());
  assert.deepEqual(used.filter((k) => !exercised.has(k)), [], "keywords no broken document hit");
});

Deno.test("json_schema.ts refuses a schema keyword it does not check, never ignores it", () => {
  assert.deepEqual(validate({ type: "string", pattern: "^a" }, "b"), [
    '$: schema keyword "pattern" is not supported by json_schema.ts',
  ]);
  assert.deepEqual(
    validate({ type: "object", properties: { at: { type: "string", format: "date-time" } } }, {
      at: "x",
    }),
    ['$.at: schema keyword "format" is not supported by json_schema.ts'],
  );
  assert.deepEqual(validate({ type: "string", description: "annotations are fine" }, "b"), []);
});
