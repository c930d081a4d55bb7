/**
 * The list of Kafka brokers to bootstrap from, as the Kafka and KafkaMQTT
 * filters (`backend`) and EaseMonitorMetrics (`kafka.brokers`) take it:
 * Easegress's `[]string` of `host:port`, without duplicates.
 *
 * @module
 */

import type { SpecReader } from "../spec.ts";

/** A `host:port` (an IPv6 host in brackets). */
const BROKER_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})$/;

/**
 * Reads the list `field`: at least one broker address, each once; `fallback`
 * when the field is absent (required when there is none).
 */
export function readBrokers(r: SpecReader, field: string, fallback?: string[]): string[] {
  const brokers = r.stringArray(field, { required: fallback === undefined }) ?? fallback ?? [];
  if (r.has(field) && brokers.length === 0) r.problem(field, "must name a broker");
  const seen = new Set<string>();
  brokers.forEach((broker, i) => {
    const match = BROKER_ADDRESS.exec(broker);
    const port = match ? Number(match[1]) : 0;
    if (port < 1 || port > 65535) {
      r.problem(`${field}[${i}]`, `must be a broker's host:port, got "${broker}"`);
    } else if (seen.has(broker)) {
      r.problem(`${field}[${i}]`, `repeats "${broker}"`);
    }
    seen.add(broker);
  });
  return brokers;
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Whether `topic` is a legal Kafka topic name (letters, digits, `.`, `_`, `-`, at most 249). */
export function isTopicName(topic: string): boolean {
  return TOPIC_NAME.test(topic) && topic !== "." && topic !== "..";
}
