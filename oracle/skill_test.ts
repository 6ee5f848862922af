import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DIFF_RECORD_TYPES, DIFF_RECORDS, SEVERITIES } from "@mat/observer";
import { COMMANDS } from "./cli_args.ts";
import { FINDING_KINDS } from "./finding.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SKILL = `${ROOT}.agent/skills/oracle-monitor/SKILL.md`;
const CLAUDE_SKILL = `${ROOT}.claude/skills/oracle-monitor/SKILL.md`;

Deno.test("the skill Claude Code discovers is the same file as .agent's", async () => {
  assert.equal(await Deno.readTextFile(CLAUDE_SKILL), await Deno.readTextFile(SKILL));
});

Deno.test("SKILL.md is in the Agent Skills format", async () => {
  const text = await Deno.readTextFile(SKILL);
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  assert.ok(m, "front matter between --- lines");
  const front = m[1] ?? "";
  assert.match(front, /^name: oracle-monitor$/m, "name matches the folder");
  const description = /^description: (.+)$/m.exec(front)?.[1] ?? "";
  assert.ok(
    description.length > 50 && description.length <= 1024,
    "a description of what and when",
  );
  assert.ok((m[2] ?? "").split("\n").length < 500, "body under 500 lines");
});

Deno.test("every oracle command appears in SKILL.md and README.md", async () => {
  const skill = await Deno.readTextFile(SKILL);
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  for (const command of COMMANDS) {
    assert.ok(skill.includes(`deno task oracle ${command}`), `SKILL.md shows ${command}`);
    assert.ok(readme.includes(`oracle ${command}`), `README.md shows ${command}`);
  }
});

Deno.test("every kind diagnose can name is explained in SKILL.md and allowed by the schema", async () => {
  const skill = await Deno.readTextFile(SKILL);
  const schema = JSON.parse(
    await Deno.readTextFile(`${ROOT}oracle/schema/oracle_output.schema.json`),
  );
  assert.deepEqual(schema.$defs.finding_kind.enum, [...FINDING_KINDS]);
  assert.deepEqual(schema.$defs.severity.enum, [...SEVERITIES], "the observer's severities");
  for (const kind of FINDING_KINDS) {
    assert.ok(skill.includes(`| \`${kind}\``), `SKILL.md explains ${kind}`);
  }
});

Deno.test("every diff record type of the observer's table is named in SKILL.md and README.md", async () => {
  const skill = await Deno.readTextFile(SKILL);
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const events = skill.slice(skill.indexOf("## Event types"));
  const files = readme.slice(readme.indexOf("### Files"));
  for (const type of DIFF_RECORD_TYPES) {
    assert.ok(events.includes(`\`${type}\``), `SKILL.md's event types name ${type}`);
    assert.ok(files.includes(`\`${type}\``), `README.md's files name ${type}`);
    if (!DIFF_RECORDS[type].legacy) {
      const list = files.slice(0, files.indexOf("A TASK's"));
      assert.ok(list.includes(`\`${type}\``), `README.md lists ${type} among the types written`);
    }
  }
});
