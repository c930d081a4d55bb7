/**
 * The MQTTProxy object (Easegress v2's spec): an MQTT 3.1.1 listener whose
 * clients' packets run through pipelines by packet type, and whose
 * subscribers receive what the admin API publishes.
 *
 * @module
 */

import type { SpecReader } from "../../filters/spec.ts";
import { keyPairProblems } from "../../filters/pem.ts";
import type { MqttPacketType } from "../../filters/mqtt_context.ts";

/** A rate limit per time period. */
export interface MqttRateLimitSpec {
  /** Requests (connects or publishes) per period; 0: unlimited. */
  requestRate: number;
  /** Bytes per period; 0: unlimited. */
  bytesRate: number;
  /** The period, in seconds. @default {1} */
  timePeriod: number;
}

/** A pipeline for one packet type. */
export interface MqttRuleSpec {
  when: { packetType: MqttPacketType };
  pipeline: string;
}

/** A normalized MQTTProxy spec. */
export interface MQTTProxySpec {
  name: string;
  kind: "MQTTProxy";
  port: number;
  useTLS: boolean;
  certificate: { name: string; cert: string; key: string }[];
  topicCacheSize: number;
  maxAllowedConnection: number;
  connectionLimit?: MqttRateLimitSpec;
  clientPublishLimit?: MqttRateLimitSpec;
  rules: MqttRuleSpec[];
  /** Client publishes also go to the matching subscribers, as a broker's do. @default {false} */
  brokerMode: boolean;
}

const PACKET_TYPES: MqttPacketType[] = [
  "Connect",
  "Disconnect",
  "Publish",
  "Subscribe",
  "Unsubscribe",
];

function readLimit(r: SpecReader): MqttRateLimitSpec {
  return {
    requestRate: r.int("requestRate", { default: 0, min: 0 }),
    bytesRate: r.int("bytesRate", { default: 0, min: 0 }),
    // 0 is the default, as Easegress takes it (a Go zero value written out).
    timePeriod: r.int("timePeriod", { default: 1, min: 0 }) || 1,
  };
}

/** Reads an MQTTProxy spec at `r` (name and kind already read). */
export function readMQTTProxySpec(r: SpecReader, name: string): MQTTProxySpec {
  const spec: MQTTProxySpec = {
    name,
    kind: "MQTTProxy",
    port: r.int("port", { required: true, min: 1, max: 65535 }) ?? 0,
    useTLS: r.bool("useTLS", false),
    certificate: r.array("certificate", (cr) => ({
      name: cr.string("name", { default: "" }),
      cert: cr.string("cert", { required: true }) ?? "",
      key: cr.string("key", { required: true }) ?? "",
    })) ?? [],
    topicCacheSize: r.int("topicCacheSize", { default: 100_000, min: 0 }),
    maxAllowedConnection: r.int("maxAllowedConnection", { default: 0, min: 0 }),
    brokerMode: r.bool("brokerMode", false),
    rules: r.array("rules", (rr) => ({
      when: rr.object("when", (wr) => ({
        packetType: (wr.string("packetType", { required: true, oneOf: PACKET_TYPES }) ??
          "Publish") as MqttPacketType,
      }), { required: true }) ?? { packetType: "Publish" },
      pipeline: rr.string("pipeline", { required: true }) ?? "",
    })) ?? [],
  };
  const connectionLimit = r.object("connectionLimit", readLimit);
  if (connectionLimit) spec.connectionLimit = connectionLimit;
  const clientPublishLimit = r.object("clientPublishLimit", readLimit);
  if (clientPublishLimit) spec.clientPublishLimit = clientPublishLimit;
  spec.certificate.forEach((c, i) => {
    for (const [field, problem] of keyPairProblems("cert", c.cert, "key", c.key)) {
      r.problem(`certificate[${i}].${field}`, problem);
    }
  });
  if (spec.useTLS && !spec.certificate.length) r.problem("certificate", "is required with useTLS");
  const seen = new Set<string>();
  spec.rules.forEach((rule, i) => {
    const type = rule.when.packetType;
    if (seen.has(type)) r.problem(`rules[${i}].when.packetType`, `${type} has a rule already`);
    seen.add(type);
  });
  return spec;
}
