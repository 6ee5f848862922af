import assert from "node:assert/strict";
import type { SkimmedLine } from "./history_reader.ts";
import { newHeaderSpan, readHeaderSpan } from "./line_header.ts";
import { ReplyLines } from "./reply_lines.ts";
import { fieldOf } from "./window_facts.ts";

/** The lines of a text, noted as a read's skim shows them: views of the whole text */
function noted(lines: string[]): ReplyLines {
  const text = lines.map((l) => `${l}\n`).join("");
  const replies = new ReplyLines();
  let start = 0;
  for (const l of lines) {
    const h = newHeaderSpan();
    const line: SkimmedLine = {
      text,
      start,
      end: start + l.length,
      typeTo: readHeaderSpan(text, start, start + l.length, h) ? h.typeTo : -1,
      segment: 0,
      offset: start,
      length: l.length,
    };
    replies.add(line);
    start += l.length + 1;
  }
  return replies;
}

const places = (r: ReplyLines, messages: string[], tasks: string[]) =>
  [...r.candidates(messages, tasks)].map((p) => p.cursor.offset);

Deno.test("a reply line is a candidate when either id it names is asked for, in read order", () => {
  const lines = [
    '{"task_message_id":"m1","task_id":"t1"}',
    '{"task_message_id":"m2","task_id":"t2"}',
    '{"task_message_id":"m3","task_id":"t1"}',
  ];
  const r = noted(lines);
  assert.equal(r.size, 3);
  const at = [0, lines[0]!.length + 1, lines[0]!.length + lines[1]!.length + 2];
  assert.deepEqual(places(r, ["m2"], []), [at[1]]);
  assert.deepEqual(places(r, [], ["t1"]), [at[0], at[2]]);
  assert.deepEqual(places(r, ["m3"], ["t2"]), [at[1], at[2]]);
  assert.deepEqual(places(r, ["m9"], ["t9"]), []);
});

Deno.test("an id is read within its own line, and a missing one is the empty id", () => {
  // The second line names no task_id: the third line's must not be taken for it.
  const r = noted(['{"task_message_id":"m1"}', '{"task_message_id":"m2","task_id":"t2"}']);
  assert.deepEqual(places(r, [], ["t2"]).length, 1);
  assert.deepEqual(places(r, [], [""]), [0]);
  // An id cut off by the end of its line (no closing quote) is the empty id too.
  assert.deepEqual(places(noted(['{"task_id":"t1']), [], [""]), [0]);
});

Deno.test("the ids of a reply line are the first of the line, where the observer writes them or not", () => {
  const head = (version: string, seq: number) =>
    `{"schema_version":${version},"seq":${seq},"ts":"2026-11-24T10:00:0${seq}.000Z","type":"handoff_completed"`;
  const lines = [
    `${head("1", 1)},"task_message_id":"m1","task_id":"t1","to":"coder"}`,
    `${head("1", 2)},"task_message_id":"m2","x":"1","task_id":"t2"}`,
    `${head("1", 3)},"task_id":"t3","task_message_id":"m3"}`,
    `${head('"task_message_id":"zz', 4)},"task_message_id":"m4","task_id":"t4"}`,
    `${head("12", 5)},"task_message_id":"m5","task_id":"t5"}`,
    `${head("1", 6)},"task_message_id":"m6"`,
  ];
  const r = noted(lines);
  let start = 0;
  for (const line of lines) {
    const m = fieldOf(line, "task_message_id");
    const t = fieldOf(line, "task_id");
    assert.ok(places(r, [m], []).includes(start), `${m} of ${line}`);
    assert.ok(places(r, [], [t]).includes(start), `${t} of ${line}`);
    start += line.length + 1;
  }
  assert.deepEqual(fieldOf(lines[3]!, "task_message_id"), "zz,");
  assert.deepEqual(places(r, ["m4"], []), []);
});
