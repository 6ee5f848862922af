/**
 * The error kind of a failure a foreign dialect states only in words (an A2A task `FAILED` whose
 * status message says why): the words are matched against what upstream services say when they
 * rate-limit or time out. Anything else is a `handler_error`: the agent failed the task.
 */

import type { EnvelopeError, ErrorKind } from "./envelope.ts";

const RULES: { kind: ErrorKind; retryable: boolean; pattern: RegExp }[] = [
  {
    kind: "llm_rate_limit",
    retryable: true,
    pattern: /\b429\b|rate[ _-]?limit|too many requests|quota exceeded|resource[ _]exhausted/i,
  },
  { kind: "timeout", retryable: true, pattern: /\b(timed? ?out|timeout|deadline exceeded)\b/i },
];

/** The error a failure text stands for, `fallback` when no rule matches */
export function failureOf(text: string, fallback: ErrorKind = "handler_error"): EnvelopeError {
  const rule = RULES.find((r) => r.pattern.test(text));
  return {
    kind: rule?.kind ?? fallback,
    message: text === "" ? "(no message)" : text,
    retryable: rule?.retryable ?? false,
  };
}
