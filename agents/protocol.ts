/**
 * The network-free part of the agents' public surface: the envelope, its validator, topic naming,
 * where the brokers are, trace context, process records and Kafka offset order. Readers such as the oracle import
 * this, never `mod.ts`.
 */

export * from "./bootstrap_servers.ts";
export * from "./protocol/envelope.ts";
export * from "./topics.ts";
export * from "./trace_context.ts";
export * from "./kafka_offset.ts";
export * from "./process_record.ts";
export * from "./protocol/normalized.ts";
export * from "./protocol/read_record.ts";
export * from "./protocol/mapping.ts";
export * from "./protocol/mapping_read.ts";
