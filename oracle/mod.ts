/** The oracle member: reads the observer's time machine; imports nothing that talks to a network. */

export { type Cursor, History, type Line, type Segment } from "./history_reader.ts";
export { ReadStats } from "./read_sink.ts";
export { parseDuration, parseTime } from "./time_spec.ts";
