/**
 * The settings that say how to read a system's records: which topics are agent queues
 * (KAFKA_TOPIC_PATTERN), who the requester is (OBSERVER_USER_INBOX), which dialects read records
 * (OBSERVER_DIALECTS) and the team's declared mappings (OBSERVER_MAPPINGS, files read and
 * validated here, at start). Each wrong setting is a ConfigError naming the variable.
 */

import {
  type DialectChoice,
  isAgentLabel,
  type Mapping,
  MappingError,
  parseMapping,
  TopicPattern,
  USER_INBOX,
} from "@mat/agents/protocol";
import { ConfigError } from "./config_error.ts";

type Env = { get(key: string): string | undefined };

/** The built-in dialects OBSERVER_DIALECTS can name */
export const BUILT_IN_DIALECTS = ["mat", "cloudevents", "a2a"] as const;

export interface ReadingConfig {
  topicPattern: TopicPattern;
  userInbox: string;
  dialects: DialectChoice;
  /** The dialects' names as recorded in `observer_started` (`mapping:<name>` for each mapping) */
  dialectNames: string[];
}

function topicPatternFrom(env: Env, prefix: string): TopicPattern {
  const raw = env.get("KAFKA_TOPIC_PATTERN")?.trim();
  if (raw === undefined || raw === "") return TopicPattern.ofPrefix(prefix);
  try {
    return new TopicPattern(raw);
  } catch (err) {
    if (!(err instanceof SyntaxError || err instanceof RangeError)) throw err;
    throw new ConfigError(`KAFKA_TOPIC_PATTERN: ${err.message}`, "KAFKA_TOPIC_PATTERN", raw);
  }
}

function mappingsFrom(env: Env): Mapping[] {
  const raw = env.get("OBSERVER_MAPPINGS")?.trim();
  if (raw === undefined || raw === "") return [];
  const mappings: Mapping[] = [];
  for (const file of raw.split(",").map((f) => f.trim()).filter((f) => f !== "")) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (err) {
      throw new ConfigError(
        `OBSERVER_MAPPINGS: cannot read "${file}": ${err instanceof Error ? err.message : err}`,
        "OBSERVER_MAPPINGS",
        raw,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(
        `OBSERVER_MAPPINGS: "${file}" is not JSON: ${err instanceof Error ? err.message : err}`,
        "OBSERVER_MAPPINGS",
        raw,
      );
    }
    try {
      mappings.push(parseMapping(json, file));
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      throw new ConfigError(`OBSERVER_MAPPINGS: ${err.message}`, "OBSERVER_MAPPINGS", raw);
    }
  }
  const names = mappings.map((m) => m.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw new ConfigError(
      `OBSERVER_MAPPINGS: two mappings are named "${twice}"; a mapping's name says which read a record`,
      "OBSERVER_MAPPINGS",
      raw,
    );
  }
  return mappings;
}

function dialectsFrom(env: Env): Set<string> {
  const raw = env.get("OBSERVER_DIALECTS")?.trim();
  if (raw === undefined || raw === "") return new Set(BUILT_IN_DIALECTS);
  const named = raw.split(",").map((d) => d.trim()).filter((d) => d !== "");
  const unknown = named.find((d) => !(BUILT_IN_DIALECTS as readonly string[]).includes(d));
  if (unknown !== undefined) {
    throw new ConfigError(
      `OBSERVER_DIALECTS must list dialects of ${BUILT_IN_DIALECTS.join(", ")} ` +
        `(declared mappings come from OBSERVER_MAPPINGS), got "${unknown}"`,
      "OBSERVER_DIALECTS",
      raw,
    );
  }
  return new Set(named);
}

/** How to read records, from the environment */
export function readingConfig(env: Env, prefix: string): ReadingConfig {
  const topicPattern = topicPatternFrom(env, prefix);
  const userInbox = env.get("OBSERVER_USER_INBOX")?.trim() || USER_INBOX;
  if (!isAgentLabel(userInbox)) {
    throw new ConfigError(
      `OBSERVER_USER_INBOX must be an agent name (letters, digits, ._-), got "${userInbox}"`,
      "OBSERVER_USER_INBOX",
      userInbox,
    );
  }
  const enabled = dialectsFrom(env);
  const mappings = mappingsFrom(env);
  const dialects: DialectChoice = {
    mat: enabled.has("mat"),
    cloudevents: enabled.has("cloudevents"),
    a2a: enabled.has("a2a"),
    mappings,
  };
  if (!dialects.mat && !dialects.a2a && mappings.length === 0) {
    throw new ConfigError(
      "OBSERVER_DIALECTS leaves no dialect that reads a message (mat, a2a or a mapping)",
      "OBSERVER_DIALECTS",
      env.get("OBSERVER_DIALECTS"),
    );
  }
  return {
    topicPattern,
    userInbox,
    dialects,
    dialectNames: [
      ...BUILT_IN_DIALECTS.filter((d) => enabled.has(d)),
      ...mappings.map((m) => `mapping:${m.name}`),
    ],
  };
}
