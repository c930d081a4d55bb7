/**
 * The fields the Kafka and KafkaMQTT filters share: `backend`, the brokers
 * to bootstrap from, as Easegress's `[]string` of `host:port`, required and
 * without duplicates.
 *
 * @module
 */

import type { SpecReader } from "../spec.ts";

/** A `host:port` (an IPv6 host in brackets). */
const BROKER_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})$/;

/** Reads `backend`: at least one broker address, each once. */
export function readBrokers(r: SpecReader): string[] {
  const brokers = r.stringArray("backend", { required: true }) ?? [];
  if (r.has("backend") && brokers.length === 0) r.problem("backend", "must name a broker");
  const seen = new Set<string>();
  brokers.forEach((broker, i) => {
    const match = BROKER_ADDRESS.exec(broker);
    const port = match ? Number(match[1]) : 0;
    if (port < 1 || port > 65535) {
      r.problem(`backend[${i}]`, `must be a broker's host:port, got "${broker}"`);
    } else if (seen.has(broker)) {
      r.problem(`backend[${i}]`, `repeats "${broker}"`);
    }
    seen.add(broker);
  });
  return brokers;
}
