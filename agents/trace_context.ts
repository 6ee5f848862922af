/** W3C Trace Context (`traceparent`) carried in Kafka record headers. */

export const TRACEPARENT_HEADER = "traceparent";

export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parses a `traceparent` header value; undefined when absent or invalid */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, traceId = "", spanId = "", flags = "00"] = m;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A new span in the given trace, or the root of a new trace */
export function childSpan(parent: TraceContext | undefined): TraceContext {
  return {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    sampled: parent?.sampled ?? true,
  };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? "01" : "00"}`;
}
