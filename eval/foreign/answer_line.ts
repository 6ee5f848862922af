/**
 * One line a foreign system's client prints on stdout (one per request), narrowed from `unknown`:
 * `{"request": messageId, "outcome": "completed"|"failed"|"input_required"|"timeout", "text": ...}`.
 */

import { isRecord } from "@mat/agents/support";
import type { ForeignAnswer } from "./foreign_system.ts";

const OUTCOMES: readonly ForeignAnswer["outcome"][] = [
  "completed",
  "failed",
  "input_required",
  "timeout",
];

function isOutcome(value: unknown): value is ForeignAnswer["outcome"] {
  return (OUTCOMES as readonly unknown[]).includes(value);
}

/** The answer a client line reports; a SyntaxError or TypeError quoting the line otherwise */
export function parseAnswerLine(line: string): ForeignAnswer {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new SyntaxError(`Cannot parse client line "${line}": not JSON`);
  }
  if (!isRecord(json)) throw new TypeError(`Client line "${line}" is not a JSON object`);
  const { request, outcome, text } = json;
  if (typeof request !== "string" || request === "") {
    throw new TypeError(`Client line "${line}": "request" must be a non-empty string`);
  }
  if (!isOutcome(outcome)) {
    throw new TypeError(
      `Client line "${line}": "outcome" must be one of ${OUTCOMES.join(", ")}, got ${
        JSON.stringify(outcome)
      }`,
    );
  }
  if (typeof text !== "string") {
    throw new TypeError(`Client line "${line}": "text" must be a string`);
  }
  return { request, outcome, text };
}
