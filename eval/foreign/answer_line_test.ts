import assert from "node:assert/strict";
import { parseAnswerLine } from "./answer_line.ts";

Deno.test("parseAnswerLine reads a client line's request, outcome and text", () => {
  assert.deepEqual(
    parseAnswerLine('{"request": "m1", "outcome": "failed", "text": "summarizer failed: 429"}'),
    { request: "m1", outcome: "failed", text: "summarizer failed: 429" },
  );
});

Deno.test("parseAnswerLine quotes a line that is not an answer", () => {
  assert.throws(() => parseAnswerLine("client: sent"), {
    name: "SyntaxError",
    message: 'Cannot parse client line "client: sent": not JSON',
  });
  assert.throws(() => parseAnswerLine('{"request": "m1", "outcome": "done", "text": ""}'), {
    name: "TypeError",
    message: 'Client line "{"request": "m1", "outcome": "done", "text": ""}": "outcome" must be ' +
      'one of completed, failed, input_required, timeout, got "done"',
  });
});
