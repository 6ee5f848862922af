/** The agents member: the message protocol, the agent runtime and the sample agents. */

export * from "./envelope.ts";
export { AgentError } from "./agent_error.ts";
export * from "./topics.ts";
export * from "./trace_context.ts";
export * from "./process_record.ts";
export { type FaultKind, FaultPlan, type FaultRule, parseFaults } from "./faults.ts";
export type { AgentContext, AgentModule, NewTask, TaskOutcome } from "./runtime.ts";
export { KafkaBus } from "./kafka_bus.ts";
