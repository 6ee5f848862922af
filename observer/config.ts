/**
 * Every setting of the observer, read from the environment in one place and validated with
 * precise errors. README.md's "Environment variables" has the table.
 */

import {
  bootstrapServers,
  DEFAULT_TOPIC_PREFIX,
  isAgentLabel,
  topicPrefix,
} from "@mat/agents/protocol";
import { DEFAULT_FOLD_OPTIONS } from "./fold_options.ts";
import { ConfigError } from "./config_error.ts";
import { type ReadingConfig, readingConfig } from "./dialect_config.ts";

export { ConfigError };

export interface ObserverConfig {
  dataDir: string;
  brokers: string[];
  topicPrefix: string;
  /** Which topics are agent queues, who the requester is, which dialects read records */
  reading: ReadingConfig;
  /** The observer's own consumer group (a hint only: its files are the source of truth) */
  groupId: string;
  snapshotIntervalMs: number;
  port: number;
  host: string;
  token: string | undefined;
  /** Buffered lines are written and fdatasync'd at least this often */
  syncIntervalMs: number;
  segmentBytes: number;
  /**
   * Bytes both histories may take on disk (OBSERVER_RETAIN_BYTES): the diff history gets seven
   * eighths, the state history one eighth (`retainBytesOf`)
   */
  retainBytes: number;
  /** A handoff with no deadline is stuck after this long (or 5x the agent's p95, if larger) */
  stuckAfterMs: number;
  /** A reply seen before its TASK waits this long for it before it is `reply_orphaned` */
  orphanGraceMs: number;
  queuePollMs: number;
  /**
   * How often the broker is asked which consumer groups read the agent queues (ListGroups,
   * DescribeGroups, OffsetFetch per group); between two, the groups found are sampled every poll
   */
  groupRefreshMs: number;
  /**
   * Groups declared to read an agent's queue (OBSERVER_GROUPS), by agent: sampled whether or not
   * the broker knows them, beside the groups it says read the queue
   */
  declaredGroups: ReadonlyMap<string, readonly string[]>;
  /** Samples in the Burrow-style window */
  queueWindow: number;
  topicRefreshMs: number;
  /** Bytes of payload kept in a `message` record */
  previewBytes: number;
  /** Bytes of lines waiting for the disk before the Kafka fetch loop pauses */
  maxPendingBytes: number;
  /** The observer is unhealthy when its own lag exceeds this many messages */
  maxOwnLag: number;
  /**
   * How long a pod or process death waits for the queues to be read up to its time before its
   * tasks in flight are named without them (`tasks_in_flight_complete: false`)
   */
  deathHoldMs: number;
  /** Server-sent event streams open at once; one more is answered 429 */
  maxStreams: number;
  /** `/events` reads of the history at once; one more is answered 429 */
  maxHistoryReads: number;
}

type Env = { get(key: string): string | undefined };

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env.get(name);
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be an integer from ${min} to ${max}, got "${raw}"`,
      name,
      raw,
    );
  }
  return value;
}

function seconds(env: Env, name: string, fallbackMs: number): number {
  const raw = env.get(name);
  if (raw === undefined || raw.trim() === "") return fallbackMs;
  const value = Number(raw.trim());
  if (!Number.isFinite(value) || value <= 0 || value > 86_400) {
    throw new ConfigError(`${name} must be a number of seconds above 0, got "${raw}"`, name, raw);
  }
  return Math.round(value * 1000);
}

/**
 * OBSERVER_GROUPS: `agent=group` pairs joined by commas, several groups of one agent joined by `+`
 * (`summarizer=a2a-summarizer,search=a2a-search+search-audit`); blanks around names are ignored
 */
function declaredGroups(env: Env, ownGroup: string, userInbox: string): Map<string, string[]> {
  const name = "OBSERVER_GROUPS";
  const raw = env.get(name);
  const out = new Map<string, string[]>();
  if (raw === undefined || raw.trim() === "") return out;
  const fail = (message: string) => new ConfigError(`${name} ${message}`, name, raw);
  for (const pair of raw.split(",")) {
    const eq = pair.indexOf("=");
    if (pair.trim() === "") throw fail(`has an empty entry, got "${raw}"`);
    if (eq < 0) throw fail(`must list agent=group pairs, got "${pair.trim()}"`);
    const agent = pair.slice(0, eq).trim();
    if (!isAgentLabel(agent)) {
      throw fail(`must name agents (letters, digits, ._-), got "${agent}"`);
    }
    if (agent === userInbox) {
      throw fail(`cannot declare groups of the user inbox "${agent}": it is not sampled`);
    }
    if (out.has(agent)) throw fail(`names agent "${agent}" twice`);
    const groups: string[] = [];
    for (const g of pair.slice(eq + 1).split("+").map((g) => g.trim())) {
      if (g === "") throw fail(`gives agent "${agent}" an empty group, got "${pair.trim()}"`);
      if (/\s/.test(g)) throw fail(`group names cannot hold blanks, got "${g}"`);
      if (g === ownGroup) throw fail(`names the observer's own group "${g}" (OBSERVER_GROUP)`);
      if (groups.includes(g)) throw fail(`names group "${g}" twice for agent "${agent}"`);
      groups.push(g);
    }
    out.set(agent, groups);
  }
  return out;
}

/**
 * Default OBSERVER_RETAIN_BYTES: 1 GiB, half the manifest's 2 GiB volume (a history may pass its
 * share by what one flush writes before the next rotation)
 */
export const DEFAULT_RETAIN_BYTES = 1024 * 1024 * 1024;

/** The retention and segment size of one history, from the configuration */
export function retentionOf(
  config: Pick<ObserverConfig, "retainBytes" | "segmentBytes">,
  history: "diff" | "state",
): { retainBytes: number; segmentBytes: number } {
  const retainBytes = history === "diff"
    ? Math.floor(config.retainBytes * 7 / 8)
    : Math.floor(config.retainBytes / 8);
  // At least four segments fit in a history's share, so retention deletes a quarter at a time
  return { retainBytes, segmentBytes: Math.min(config.segmentBytes, Math.floor(retainBytes / 4)) };
}

/** Reads the configuration; throws ConfigError naming the variable and its value */
export function loadConfig(env: Env = Deno.env): ObserverConfig {
  const oldRetain = env.get("OBSERVER_RETAIN_SEGMENTS");
  if (oldRetain !== undefined && oldRetain.trim() !== "") {
    throw new ConfigError(
      `OBSERVER_RETAIN_SEGMENTS is replaced by OBSERVER_RETAIN_BYTES (bytes both histories may ` +
        `take), got "${oldRetain}"`,
      "OBSERVER_RETAIN_SEGMENTS",
      oldRetain,
    );
  }
  const prefix = topicPrefix(env);
  const host = env.get("OBSERVER_HOST")?.trim() || "127.0.0.1";
  if (/\s/.test(host)) {
    throw new ConfigError(
      `OBSERVER_HOST must be a host name or address, got "${host}"`,
      "OBSERVER_HOST",
      host,
    );
  }
  const token = env.get("OBSERVER_TOKEN");
  if (token !== undefined && token !== "" && token.length < 8) {
    throw new ConfigError(
      `OBSERVER_TOKEN must be at least 8 characters, got ${token.length}`,
      "OBSERVER_TOKEN",
      undefined,
    );
  }
  // What a client can send after "Bearer " (RFC 6750); the API refuses anything else with 400
  if (token !== undefined && token !== "" && !/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw new ConfigError(
      "OBSERVER_TOKEN must hold only letters, digits and -._~+/ (then = padding), " +
        "the characters a bearer token can carry",
      "OBSERVER_TOKEN",
      undefined,
    );
  }
  let brokers: string[];
  try {
    brokers = bootstrapServers(env);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new ConfigError(err.message, "KAFKA_PORT", env.get("KAFKA_PORT"));
  }
  const bad = brokers.find((b) => !/^[^\s:]+:\d{1,5}$/.test(b));
  if (bad !== undefined) {
    throw new ConfigError(
      `KAFKA_BOOTSTRAP_SERVERS must list host:port pairs, got "${bad}"`,
      "KAFKA_BOOTSTRAP_SERVERS",
      env.get("KAFKA_BOOTSTRAP_SERVERS"),
    );
  }
  const groupId = env.get("OBSERVER_GROUP")?.trim() ||
    (prefix === DEFAULT_TOPIC_PREFIX ? "telemetry-observer" : `${prefix}telemetry-observer`);
  const reading = readingConfig(env, prefix);
  return {
    dataDir: env.get("TELEMETRY_DATA_DIR")?.trim() || "./telemetry_data",
    brokers,
    topicPrefix: prefix,
    reading,
    groupId,
    snapshotIntervalMs: seconds(env, "SNAPSHOT_INTERVAL", 5_000),
    port: integer(env, "OBSERVER_PORT", 8080, 0, 65_535),
    host,
    token: token === undefined || token === "" ? undefined : token,
    syncIntervalMs: integer(env, "OBSERVER_SYNC_INTERVAL_MS", 200, 1, 60_000),
    segmentBytes: integer(env, "OBSERVER_SEGMENT_BYTES", 64 * 1024 * 1024, 4096, 2 ** 40),
    retainBytes: integer(env, "OBSERVER_RETAIN_BYTES", DEFAULT_RETAIN_BYTES, 64 * 1024, 2 ** 50),
    stuckAfterMs: integer(
      env,
      "STUCK_AFTER_MS",
      DEFAULT_FOLD_OPTIONS.stuckAfterMs,
      1,
      7 * 86_400_000,
    ),
    orphanGraceMs: integer(
      env,
      "ORPHAN_GRACE_MS",
      DEFAULT_FOLD_OPTIONS.orphanGraceMs,
      0,
      3_600_000,
    ),
    queuePollMs: integer(env, "OBSERVER_QUEUE_POLL_MS", 2_000, 100, 3_600_000),
    groupRefreshMs: integer(env, "OBSERVER_GROUP_REFRESH_MS", 10_000, 100, 3_600_000),
    declaredGroups: declaredGroups(env, groupId, reading.userInbox),
    queueWindow: integer(env, "OBSERVER_QUEUE_WINDOW", DEFAULT_FOLD_OPTIONS.windowSize, 2, 1_000),
    topicRefreshMs: integer(env, "OBSERVER_TOPIC_REFRESH_MS", 3_000, 100, 3_600_000),
    previewBytes: integer(env, "OBSERVER_PREVIEW_BYTES", 1_024, 0, 1024 * 1024),
    maxPendingBytes: integer(env, "OBSERVER_MAX_PENDING_BYTES", 2 * 1024 * 1024, 4096, 2 ** 32),
    maxOwnLag: integer(env, "OBSERVER_MAX_OWN_LAG", 10_000, 1, Number.MAX_SAFE_INTEGER),
    deathHoldMs: integer(env, "OBSERVER_DEATH_HOLD_MS", 60_000, 0, 3_600_000),
    maxStreams: integer(env, "OBSERVER_MAX_STREAMS", 16, 1, 10_000),
    maxHistoryReads: integer(env, "OBSERVER_MAX_HISTORY_READS", 4, 1, 1_000),
  };
}
