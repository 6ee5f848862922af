import type { ErrorKind } from "./protocol/envelope.ts";

/**
 * An error a handler throws to answer its task with a structured `ERROR`. `retryable` tells the
 * sender whether the same task may succeed if sent again.
 */
export class AgentError extends Error {
  override name = "AgentError";
  readonly kind: ErrorKind;
  readonly retryable: boolean;

  constructor(kind: ErrorKind, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable;
  }
}
