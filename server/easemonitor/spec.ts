/**
 * The EaseMonitorMetrics object (Easegress's business controller): the
 * node's HTTP statistics, sent to a Kafka topic every few seconds.
 *
 * @module
 */

import { isTopicName, readBrokers } from "../../filters/kafka/spec.ts";
import type { SpecReader } from "../../filters/spec.ts";

/** A normalized EaseMonitorMetrics spec. */
export interface EaseMonitorMetricsSpec {
  name: string;
  kind: "EaseMonitorMetrics";
  kafka: { brokers: string[]; topic: string };
}

/** Easegress's default broker list. */
const DEFAULT_BROKERS = ["localhost:9092"];

/** Reads an EaseMonitorMetrics spec at `r` (name and kind already read). */
export function readEaseMonitorMetricsSpec(r: SpecReader, name: string): EaseMonitorMetricsSpec {
  const kafka = r.object("kafka", (kr) => {
    const brokers = readBrokers(kr, "brokers", DEFAULT_BROKERS);
    const topic = kr.string("topic", { required: true }) ?? "";
    if (kr.has("topic") && !isTopicName(topic)) {
      kr.problem("topic", `must be a Kafka topic name, got "${topic}"`);
    }
    return { brokers, topic };
  }, { required: true }) ?? { brokers: DEFAULT_BROKERS, topic: "" };
  return { name, kind: "EaseMonitorMetrics", kafka };
}
