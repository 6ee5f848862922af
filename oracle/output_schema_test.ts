import assert from "node:assert/strict";
import { outputProblems } from "./output_schema.ts";
import { oracle } from "./testing.ts";

/** What the oracle prints for `command` on an empty history: a document the schema accepts */
async function emptyHistoryDoc(command: string): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "oracle-schema-" });
  try {
    const r = await oracle([command, "-f", "json", "--data-dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `doc` changed by `change`, `doc` itself left alone */
function changed(
  doc: Record<string, unknown>,
  change: (copy: Record<string, unknown>) => void,
): Record<string, unknown> {
  const copy = structuredClone(doc);
  change(copy);
  return copy;
}

Deno.test("the schema check refuses a document that breaks any keyword the schema uses", async () => {
  const diagnose = await emptyHistoryDoc("diagnose");
  const replay = await emptyHistoryDoc("replay");
  assert.deepEqual(outputProblems(diagnose), []);
  assert.deepEqual(outputProblems(replay), []);
  const incident = (d: Record<string, unknown>) =>
    (d["incidents"] as Record<string, unknown>[])[0]!;
  const cases: [keyword: string, doc: Record<string, unknown>, problem: RegExp][] = [
    [
      "type",
      changed(diagnose, (d) => (d["generated_at"] = 5)),
      /^\$\.generated_at: must be string/,
    ],
    ["required", changed(diagnose, (d) => delete d["summary"]), /required property 'summary'/],
    [
      "additionalProperties",
      changed(diagnose, (d) => (d["surprise"] = true)),
      /"additionalProperty":"surprise"/,
    ],
    ["const", changed(diagnose, (d) => (d["schema"] = "oracle-output/v1")), /^\$\.schema: /],
    ["enum", changed(diagnose, (d) => (d["status"] = "fine")), /^\$\.status: /],
    ["minimum", changed(diagnose, (d) => (d["skipped_lines"] = -1)), /^\$\.skipped_lines: /],
    [
      "items, $ref",
      changed(diagnose, (d) => (incident(d)["severity"] = "dire")),
      /^\$\.incidents\[0\]\.severity: /,
    ],
    ["oneOf", changed(diagnose, (d) => (d["command"] = "nonsense")), /match exactly one schema/],
    ["anyOf", changed(replay, (d) => (d["state_at_start"] = 5)), /^\$\.state_at_start: /],
  ];
  for (const [keyword, doc, problem] of cases) {
    const problems = outputProblems(doc);
    assert.ok(problems.some((p) => problem.test(p)), `${keyword}: ${problems.join("\n")}`);
  }
});
