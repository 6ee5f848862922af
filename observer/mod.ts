/** The observer member: the time-machine record format, for anyone replaying its history. */

export * from "./record_format.ts";
