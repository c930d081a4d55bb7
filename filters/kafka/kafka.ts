/**
 * The Kafka and KafkaMQTT filters, as Easegress's: each publishes a message
 * to Kafka and goes on at once (the producer sends in the background, see
 * producer.ts), setting no response.
 *
 * - Kafka, for HTTP: the request's body goes to the topic named by the
 *   request header `topic.dynamic.header` when it is set, else to
 *   `topic.default`. A body that cannot be read: `parseErr`.
 * - KafkaMQTT, for an MQTTProxy's Publish: the topic, headers and payload
 *   come from the context's data under `mqtt`'s keys (a TopicMapper puts
 *   them there), each key given must hold a string, a map of strings and
 *   bytes; what is not given falls back to the packet's topic and payload,
 *   then the topic to `topic.default`. Anything missing or of the wrong type:
 *   `getDataFailed`.
 *
 * Easegress's cookbook runs `kind: Kafka` with an `mqtt` field in an MQTT
 * pipeline; Easegress refuses that spec, here a Kafka filter given an MQTT
 * packet publishes it as KafkaMQTT does, so the cookbook's config works.
 * A topic that is not a legal Kafka name (letters, digits, `.`, `_`, `-`, at
 * most 249) is refused per message with the filter's failure result, rather
 * than failing a whole batch at the broker.
 *
 * @module
 */

import type { Context } from "../context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "../filter.ts";
import { MqttContext } from "../mqtt_context.ts";
import { isPlainObject, SpecReader } from "../spec.ts";
import { KafkaProducer } from "./producer.ts";
import { isTopicName, readBrokers } from "./spec.ts";

/** Where KafkaMQTT finds a message's parts in the context's data. */
export interface KafkaMqttKeys {
  topicKey: string;
  headerKey: string;
  payloadKey: string;
}

/** The Kafka and KafkaMQTT specs, normalized. */
export interface KafkaSpec {
  backend: string[];
  topic: { default: string; dynamic?: { header: string } };
  mqtt?: KafkaMqttKeys;
}

/** Kafka: the request body could not be read, or the topic is not a Kafka topic name. */
export const RESULT_PARSE_ERROR = "parseErr";
/** KafkaMQTT: a part of the message is missing or of the wrong type. */
export const RESULT_GET_DATA_FAILED = "getDataFailed";

function validator(kind: "Kafka" | "KafkaMQTT") {
  return (raw: Record<string, unknown>): KafkaSpec => {
    const r = SpecReader.root(raw);
    const backend = readBrokers(r, "backend");
    const topic = r.object("topic", (tr) => {
      const fallback = tr.string("default", { required: true }) ?? "";
      // KafkaMQTT may leave it empty when every publish names its own topic.
      if (fallback !== "" || kind === "Kafka") {
        if (!isTopicName(fallback)) {
          tr.problem("default", `must be a Kafka topic name, got "${fallback}"`);
        }
      }
      const dynamic = kind === "Kafka"
        ? tr.object("dynamic", (dr) => ({ header: dr.string("header", { default: "" }) }))
        : undefined;
      return dynamic?.header ? { default: fallback, dynamic } : { default: fallback };
    }, { required: true }) ?? { default: "" };
    const mqtt = r.object("mqtt", (mr) => ({
      topicKey: mr.string("topicKey", { default: "" }),
      headerKey: mr.string("headerKey", { default: "" }),
      payloadKey: mr.string("payloadKey", { default: "" }),
    }));
    r.finish();
    r.throwIfProblems();
    return mqtt === undefined ? { backend, topic } : { backend, topic, mqtt };
  };
}

class KafkaPublisher implements FilterInstance {
  readonly #spec: KafkaSpec;
  readonly #producer: KafkaProducer;
  /** The result for a message that cannot be published. */
  readonly #failure: string;

  constructor(spec: KafkaSpec, env: FilterEnv, failure: string) {
    this.#spec = spec;
    this.#failure = failure;
    // Easegress gives the broker the filter's name as the client id.
    this.#producer = new KafkaProducer(spec.backend, env.name, env.log);
  }

  handle(ctx: Context): string | Promise<string> {
    if (ctx instanceof MqttContext) return this.#publishPacket(ctx);
    return this.#publishBody(ctx);
  }

  async #publishBody(ctx: Context): Promise<string> {
    const request = ctx.request;
    let value: Uint8Array;
    try {
      value = await request.bytes();
    } catch {
      return this.#failure;
    }
    const header = this.#spec.topic.dynamic?.header;
    const topic = (header ? request.firstHeader(header) : null) || this.#spec.topic.default;
    return this.#publish(topic, value, undefined);
  }

  #publishPacket(ctx: MqttContext): string | Promise<string> {
    const keys = this.#spec.mqtt;
    const data = ctx.data;
    let topic = "";
    let headers: Record<string, string> | undefined;
    let payload: Uint8Array | undefined;
    if (keys?.topicKey) {
      const value = data[keys.topicKey];
      if (typeof value !== "string") return RESULT_GET_DATA_FAILED;
      topic = value;
    }
    if (keys?.headerKey) {
      const value = data[keys.headerKey];
      if (!isStringMap(value)) return RESULT_GET_DATA_FAILED;
      headers = value;
    }
    if (keys?.payloadKey) {
      const value = data[keys.payloadKey];
      if (!(value instanceof Uint8Array)) return RESULT_GET_DATA_FAILED;
      payload = value;
    }
    const packet = ctx.packet;
    if (packet.type === "Publish") {
      topic ||= packet.topic ?? "";
      payload ??= packet.payload;
    }
    topic ||= this.#spec.topic.default;
    if (topic === "" || payload === undefined) return RESULT_GET_DATA_FAILED;
    return this.#publish(topic, payload, headers);
  }

  #publish(
    topic: string,
    value: Uint8Array,
    headers: Record<string, string> | undefined,
  ): string | Promise<string> {
    if (!isTopicName(topic)) return this.#failure;
    const waiting = this.#producer.send({ topic, value, headers });
    return waiting === undefined ? "" : waiting.then(() => "");
  }

  status(): unknown {
    return this.#producer.status();
  }

  close(): Promise<void> {
    return this.#producer.close();
  }
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isPlainObject(value) && !(value instanceof Uint8Array) &&
    Object.values(value).every((v) => typeof v === "string");
}

/** The Kafka filter kind (HTTP request bodies to Kafka). */
export const kafkaKind: FilterKind<KafkaSpec> = {
  kind: "Kafka",
  description: "Kafka publishes request bodies to a Kafka topic.",
  results: [RESULT_PARSE_ERROR, RESULT_GET_DATA_FAILED],
  validate: validator("Kafka"),
  create(spec: KafkaSpec, env: FilterEnv): FilterInstance {
    return new KafkaPublisher(spec, env, RESULT_PARSE_ERROR);
  },
};

/** The KafkaMQTT filter kind (MQTT publishes to Kafka). */
export const kafkaMqttKind: FilterKind<KafkaSpec> = {
  kind: "KafkaMQTT",
  description: "KafkaMQTT publishes MQTT messages to Kafka.",
  results: [RESULT_GET_DATA_FAILED],
  validate: validator("KafkaMQTT"),
  create(spec: KafkaSpec, env: FilterEnv): FilterInstance {
    return new KafkaPublisher(spec, env, RESULT_GET_DATA_FAILED);
  },
};
