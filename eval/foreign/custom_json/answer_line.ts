/** One line `client.py ask` prints, narrowed from unknown: the answer to one request */

import type { ForeignAnswer } from "../foreign_system.ts";

const OUTCOMES: readonly ForeignAnswer["outcome"][] = [
  "completed",
  "failed",
  "input_required",
  "timeout",
];

function isOutcome(value: unknown): value is ForeignAnswer["outcome"] {
  return OUTCOMES.some((o) => o === value);
}

/** Reads a line of client.py's output; throws SyntaxError quoting the line when it is not one */
export function parseAnswerLine(line: string): ForeignAnswer {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new SyntaxError(`Cannot parse client.py line "${line}": not JSON`, { cause: err });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Cannot parse client.py line "${line}": expected a JSON object`);
  }
  const { request, outcome, text } = value as Record<string, unknown>;
  if (typeof request !== "string" || request === "") {
    throw new SyntaxError(`Cannot parse client.py line "${line}": "request" is not a string`);
  }
  if (!isOutcome(outcome)) {
    throw new SyntaxError(
      `Cannot parse client.py line "${line}": "outcome" is not one of ${OUTCOMES.join(", ")}`,
    );
  }
  if (typeof text !== "string") {
    throw new SyntaxError(`Cannot parse client.py line "${line}": "text" is not a string`);
  }
  return { request, outcome, text };
}
