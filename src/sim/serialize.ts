/**
 * Serialisation of the node's batch lines, keys in the node's order.
 *
 * @module
 */

/** The JSON array of events of one stream (`JSON.stringify` measured as fast as a hand-written one). */
export function eventsJson(events: readonly unknown[]): string {
  return JSON.stringify(events);
}

/** One node batch line (without newline): `{local_time, block_time, block_number, events}`. */
export function batchJson(
  localTime: string,
  blockTime: string,
  height: number,
  events: readonly unknown[],
): string {
  return `{"local_time":"${localTime}","block_time":"${blockTime}","block_number":${height},"events":${
    eventsJson(events)
  }}`;
}
