/**
 * Small network-free helpers every member uses: plain-object narrowing, error text, an abortable
 * sleep, exponential backoff and a stable hash. The oracle may import this.
 */

export * from "./backoff.ts";
export * from "./error_text.ts";
export * from "./fnv1a.ts";
export * from "./is_record.ts";
export * from "./sleep.ts";
