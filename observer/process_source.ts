/**
 * What the observer asks of a source of pod or process changes: `K8sSource` (`k8s_source.ts`)
 * watches the agents' pods, `LocalSource` (`local_source.ts`) tails the local supervisor's
 * process records. `processSourceFromEnv` (`process_source_config.ts`) picks one.
 */

import type { ProcessSourceName, RuntimeEvent } from "./process_event.ts";

/** How a source logs: a level, a message in sentence case, and fields */
export type LogFn = (
  level: "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Something that reports pod or process changes until stopped; it never throws once started */
export interface ProcessSource {
  /** Which kind of process it watches */
  readonly source: ProcessSourceName;
  /** Resolves once the source is running (its first list or read may still be under way) */
  start(emit: (e: RuntimeEvent) => void): Promise<void>;
  /** Stops every loop and timer; resolves when they have ended */
  stop(): Promise<void>;
  /** ok is false while the source cannot see the pods or processes (reason says why) */
  health(): { ok: boolean; reason?: string };
}
