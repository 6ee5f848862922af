// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * The one file that talks to Kafka (kafkajs) and frames CloudEvents (the `cloudevents` SDK).
 *
 * Events go out in structured content mode of the CloudEvents Kafka Protocol Binding (v1.0,
 * section 3.3): the record's value is the whole event in the JSON event format, `data` inside,
 * and its `content-type` header is `application/cloudevents+json`; the event's `partitionkey`
 * extension is the record's key (section 3.1). Records come in through the SDK's `Kafka.toEvent`
 * (either mode); one that is no valid CloudEvent is reported and skipped, never thrown.
 *
 * A consumer commits each record's offset once its handler has finished with it (autoCommit off,
 * from the beginning of a new group). An error escaping the handler is thrown on as a plain
 * `Error`, which kafkajs answers by delivering the record again; a commit refused because the
 * member lost the group (a pause past its session) makes it rejoin; a consumer kafkajs gives up
 * on (its CRASH event says it will not restart) is the process's end: `onFatal` decides.
 */

import npm from "./npm_packages.cjs";

const { CloudEvent, Kafka: CloudEventsKafka } = npm.cloudevents;
const { Kafka, logLevel, Partitioners } = npm.kafkajs;

/** @typedef {import("cloudevents").CloudEvent<unknown>} AnyCloudEvent */
/** @typedef {import("kafkajs").KafkaMessage} KafkaMessage */
/** @typedef {import("kafkajs").IHeaders} IHeaders */
/** @typedef {import("kafkajs").Consumer} Consumer */

/**
 * One record read as a CloudEvent, with its Kafka headers as strings and where it was
 * @typedef {{
 *   event: AnyCloudEvent,
 *   headers: Record<string, string>,
 *   topic: string,
 *   partition: number,
 *   offset: string,
 * }} EventRecord
 */

/** How often a handler that runs long tells the group coordinator it is alive */
const HEARTBEAT_MS = 3_000;

/**
 * Kafka headers as strings (kafkajs hands them out as Buffers); the last value of a repeated one
 * @param {IHeaders | undefined} headers
 * @returns {Record<string, string>}
 */
function stringHeaders(headers) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name.toLowerCase()] = last.toString();
  }
  return out;
}

/**
 * A record as a CloudEvent, or why it is none
 * @param {KafkaMessage} message
 * @returns {{ ok: true, event: AnyCloudEvent, headers: Record<string, string> }
 *   | { ok: false, reason: string, headers: Record<string, string> }}
 */
export function readCloudEvent(message) {
  const headers = stringHeaders(message.headers);
  if (message.value === null) return { ok: false, reason: "the record has no value", headers };
  const value = message.value.toString("utf8");
  const kafkaMessage = {
    key: message.key?.toString("utf8") ?? "",
    value,
    body: value,
    headers,
    timestamp: message.timestamp,
  };
  if (!CloudEventsKafka.isEvent(kafkaMessage)) {
    const type = headers["content-type"];
    return {
      ok: false,
      reason: `not a CloudEvent (content-type ${type === undefined ? "absent" : `"${type}"`})`,
      headers,
    };
  }
  try {
    const event = CloudEventsKafka.toEvent(kafkaMessage);
    if (Array.isArray(event)) {
      return { ok: false, reason: "a batch of CloudEvents, not one", headers };
    }
    const cloudEvent = event instanceof CloudEvent ? event : new CloudEvent(event, false);
    cloudEvent.validate();
    return { ok: true, event: cloudEvent, headers };
  } catch (err) {
    return { ok: false, reason: `not a valid CloudEvent: ${messageOf(err)}`, headers };
  }
}

/**
 * @param {unknown} err
 * @returns {string}
 */
export function messageOf(err) {
  if (err instanceof Error) {
    // the cloudevents SDK's ValidationError keeps the schema's complaints in `errors`
    const errors = "errors" in err && Array.isArray(err.errors)
      ? ` ${JSON.stringify(err.errors)}`
      : "";
    return `${err.message}${errors}`;
  }
  return String(err);
}

/** The broker's answers that say this member no longer holds its partitions */
const GROUP_LOST = new Set([
  "UNKNOWN_MEMBER_ID",
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "NOT_COORDINATOR_FOR_GROUP",
]);

/**
 * The protocol error, in `err` or its causes, that says the member lost its place in the group
 * (a pause past its session: SIGSTOP, a long GC, a laptop lid)
 * @param {unknown} err
 * @returns {Error | undefined}
 */
function groupLost(err) {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ("type" in e && typeof e.type === "string" && GROUP_LOST.has(e.type)) return e;
  }
  return undefined;
}

/** kafkajs's own log lines, on stderr (stdout is the agent's: one line per task) */
function logCreator() {
  /** @param {import("kafkajs").LogEntry} entry */
  return ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    process.stderr.write(
      `${
        JSON.stringify({
          level: logLevel[level],
          component: "kafkajs",
          namespace,
          message,
          ...extra,
        })
      }\n`,
    );
  };
}

/** A producer and consumers of one process, speaking structured CloudEvents */
export class CloudEventsBus {
  /** @type {Consumer[]} */
  #consumers = [];

  /**
   * @param {{ brokers: string[], clientId: string }} options
   */
  constructor({ brokers, clientId }) {
    this.kafka = new Kafka({ clientId, brokers, logLevel: logLevel.WARN, logCreator });
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async connect() {
    await this.producer.connect();
  }

  /**
   * Sends one structured CloudEvent to `topic`, with extra Kafka headers
   * @param {string} topic
   * @param {{
   *   type: string,
   *   source: string,
   *   data: unknown,
   *   key: string,
   *   subject?: string,
   *   headers: Record<string, string>,
   * }} spec
   * @returns {Promise<AnyCloudEvent>}
   */
  async send(topic, { type, source, data, key, subject, headers }) {
    const event = new CloudEvent({
      type,
      source,
      datacontenttype: "application/json",
      data,
      partitionkey: key,
      ...(subject === undefined ? {} : { subject }),
    });
    const message = CloudEventsKafka.structured(event);
    /** @type {Record<string, string>} */
    const kafkaHeaders = { ...headers };
    for (const [name, value] of Object.entries(message.headers)) {
      if (typeof value === "string") kafkaHeaders[name] = value;
    }
    await this.producer.send({
      topic,
      messages: [{
        key: message.key.toString(),
        value: message.value,
        headers: kafkaHeaders,
        ...(message.timestamp === undefined ? {} : { timestamp: message.timestamp }),
      }],
    });
    return event;
  }

  /**
   * Reads `topic` in group `groupId`, one record at a time per partition, committing each record
   * once `onEvent` (or `onBadRecord`, for one that is no CloudEvent) has finished with it
   * @param {{
   *   groupId: string,
   *   topic: string,
   *   onEvent: (record: EventRecord) => Promise<void>,
   *   onBadRecord: (
   *     where: { topic: string, partition: number, offset: string },
   *     reason: string,
   *   ) => void,
   *   onFatal: (error: unknown) => void,
   * }} options
   */
  async consume({ groupId, topic, onEvent, onBadRecord, onFatal }) {
    const consumer = this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: HEARTBEAT_MS,
    });
    this.#consumers.push(consumer);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) onFatal(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const where = { topic, partition, offset: message.offset };
        const beat = setInterval(() => {
          // a missed heartbeat is retried on the next beat; a lost membership shows at commit
          heartbeat().catch(() => {});
        }, HEARTBEAT_MS);
        try {
          const read = readCloudEvent(message);
          if (read.ok) await onEvent({ event: read.event, headers: read.headers, ...where });
          else onBadRecord(where, read.reason);
        } catch (err) {
          // a plain Error: kafkajs delivers the record again (a TypeError would stop it for good)
          const reason = `Cannot handle ${topic}[${partition}]@${message.offset}: ${
            messageOf(err)
          }`;
          throw new Error(reason, { cause: err });
        } finally {
          clearInterval(beat);
        }
        try {
          await consumer.commitOffsets([
            { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
          ]);
        } catch (err) {
          // kafkajs wraps the broker's answer in a KafkaJSNonRetriableError, which would stop the
          // consumer for good; thrown bare, a lost membership makes it rejoin the group, and the
          // record, not committed, is delivered again (to this member or another)
          throw groupLost(err) ?? err;
        }
      },
    });
  }

  /** Leaves the groups and closes the connections */
  async disconnect() {
    await Promise.allSettled(this.#consumers.map((c) => c.disconnect()));
    await this.producer.disconnect();
  }
}
