/** The agents member: the message protocol, the agent runtime and the sample agents. */

export * from "./protocol.ts";
export { AgentError } from "./agent_error.ts";
export { type FaultKind, FaultPlan, type FaultRule, parseFaults } from "./faults.ts";
export { KafkaBus } from "./kafka_bus.ts";
export { MissingTopicError, missingTopicLine } from "./missing_topic.ts";
export type { Bus, IncomingRecord, OutgoingRecord, Subscription } from "./kafka_bus.ts";
export type { AgentContext, AgentModule, NewTask, TaskOutcome } from "./agent_module.ts";
export { parseReplicas, type ReplicaCounts, replicasOf } from "./replicas.ts";
export { fleetWorkerNames, isFleetWorker } from "./roster/mod.ts";
