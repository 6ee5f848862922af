/**
 * A queue series: the `queue_sample` records of one agent queue read by one consumer group (same
 * `agent`, same `group`; group "" for a queue no group reads). The observer's state holds one
 * entry per series and the oracle judges each apart. A series ends when a later sample of the same
 * queue lists the groups read for it (`topic_groups`) without its group: the group stopped reading
 * the topic, or the broker no longer knows it (an unread queue's series ends as a group is found).
 */

/** What names a series: the queue's agent and the group */
export interface SeriesOf {
  agent: string;
  group: string;
}

/** The key of a series in a map */
export function queueKey(q: SeriesOf): string {
  return `${q.agent}\u0000${q.group}`;
}

/** Whether a sample of a queue says another series of that queue has ended */
export function endsSeries(
  sample: SeriesOf & { topic_groups?: readonly string[] },
  series: SeriesOf,
): boolean {
  return sample.agent === series.agent && sample.group !== series.group &&
    sample.topic_groups !== undefined && !sample.topic_groups.includes(series.group);
}
