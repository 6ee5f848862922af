/**
 * The `kind` of an error fold: what the observer folded, an agent's ERROR kind (owned by the
 * agents' protocol) or something it saw itself. The observer writes it and the oracle switches
 * over it, so the kinds are one union: a kind added here is a compile error in every exhaustive
 * switch until it is handled there.
 *
 * Three families are templated from a reason, as template literal types (the text on disk is the
 * same as ever): `stuck_<reason>` (a stuck handoff), `queue_<status>` (a queue STALL, STOP or ERR)
 * and `k8s_<event reason>` (a Kubernetes Warning event, its reason in lower case: open-ended).
 *
 * On disk a kind is a string: `foldKindOf` is the one validator that narrows it, and a kind this
 * code does not know (written by a newer observer, or a newer agent's ERROR kind) is `undefined`,
 * data the reader handles, not an error.
 */

import { ERROR_KINDS, type ErrorKind } from "@mat/agents/protocol";
import { type QueueStatus, STUCK_REASONS, type StuckReason } from "./record_fields.ts";

/** Kinds of what the observer saw in the queues itself */
export const OBSERVED_KINDS = [
  /** A TASK sent to a queue no consumer group member reads */
  "task_unconsumed",
  /** A record that is not JSON or not a valid envelope */
  "malformed_record",
  /** A reply whose TASK was never seen */
  "reply_orphaned",
  /** A message delivered twice */
  "delivered_twice",
  /** Tasks bouncing between two agents */
  "handoff_loop",
] as const;
export type ObservedKind = typeof OBSERVED_KINDS[number];

/** Kinds of pod and process changes (the runtime sources) */
export const RUNTIME_KINDS = [
  "oom_killed",
  "restarted",
  "process_died",
  "crash_loop",
  "unschedulable",
  "evicted",
  "image_pull_backoff",
  "runtime_source_error",
] as const;
export type RuntimeKind = typeof RUNTIME_KINDS[number];

/** A stuck handoff, by why it is stuck */
export type StuckKind = `stuck_${StuckReason}`;

export function stuckKind(reason: StuckReason): StuckKind {
  return `stuck_${reason}`;
}

/** The queue statuses that are errors */
export const QUEUE_ERROR_STATUSES = [
  "STALL",
  "STOP",
  "ERR",
] as const satisfies readonly QueueStatus[];
export type QueueErrorStatus = typeof QUEUE_ERROR_STATUSES[number];
/** A queue in an error status */
export type QueueKind = `queue_${Lowercase<QueueErrorStatus>}`;

const QUEUE_KINDS: { [S in QueueErrorStatus]: `queue_${Lowercase<S>}` } = {
  STALL: "queue_stall",
  STOP: "queue_stop",
  ERR: "queue_err",
};

export function queueKind(status: QueueErrorStatus): QueueKind {
  return QUEUE_KINDS[status];
}

export function isQueueErrorStatus(status: QueueStatus): status is QueueErrorStatus {
  return Object.hasOwn(QUEUE_KINDS, status);
}

/** A Kubernetes Warning event on an agent's pod, by its reason (`k8s_backoff`...) */
export type K8sWarningKind = `k8s_${string}`;

export function k8sWarningKind(reason: string): K8sWarningKind {
  return `k8s_${reason.toLowerCase()}`;
}

export function isK8sWarningKind(kind: string): kind is K8sWarningKind {
  return kind.startsWith("k8s_");
}

/** Every kind an error fold can have */
export type FoldKind =
  | ErrorKind
  | ObservedKind
  | StuckKind
  | QueueKind
  | RuntimeKind
  | K8sWarningKind;

/** Every kind but the open-ended `k8s_` ones, each once */
export const FIXED_FOLD_KINDS: readonly Exclude<FoldKind, K8sWarningKind>[] = [
  ...ERROR_KINDS,
  ...OBSERVED_KINDS,
  ...STUCK_REASONS.map(stuckKind),
  ...QUEUE_ERROR_STATUSES.map(queueKind),
  ...RUNTIME_KINDS,
];

const FIXED = new Map<string, FoldKind>(FIXED_FOLD_KINDS.map((k) => [k, k]));
const AGENT_ERROR_KINDS = new Map<string, ErrorKind>(ERROR_KINDS.map((k) => [k, k]));

/** A fold's `kind` read back as the union, or `undefined` for a kind this code does not know */
export function foldKindOf(kind: string): FoldKind | undefined {
  return FIXED.get(kind) ?? (isK8sWarningKind(kind) ? kind : undefined);
}

/** An ERROR envelope's `kind` as recorded, narrowed to the agents' kinds */
export function agentErrorKindOf(kind: string): ErrorKind | undefined {
  return AGENT_ERROR_KINDS.get(kind);
}

/** Makes a switch over kinds exhaustive: a kind not handled is a compile error where it is called */
export function unhandledKind(kind: never): never {
  throw new TypeError(`Unhandled error fold kind ${JSON.stringify(kind)}`);
}
