import assert from "node:assert/strict";
import {
  kafkaKind,
  kafkaMqttKind,
  RESULT_GET_DATA_FAILED,
  RESULT_PARSE_ERROR,
} from "../../../filters/kafka/kafka.ts";
import { MqttContext, type MqttPacket } from "../../../filters/mqtt_context.ts";
import type { FilterInstance, FilterKind } from "../../../filters/filter.ts";
import { startKafkaBroker } from "../../integration/kafka_broker.ts";
import { freePort } from "../../integration/helpers.ts";
import { contextFor, roundTrip, specProblems, testEnv } from "./_helpers.ts";
import { KafkaProducer } from "../../../filters/kafka/producer.ts";

const text = (bytes: Uint8Array | null) => new TextDecoder().decode(bytes ?? new Uint8Array());
const client = { clientID: "c1", username: "dev", remoteAddr: "127.0.0.1:5000" };
const publish = (fields: Partial<MqttPacket>) =>
  new MqttContext({ type: "Publish", client, ...fields });

function create<S>(kind: FilterKind<S>, spec: Record<string, unknown>) {
  const env = testEnv();
  return { filter: kind.create(kind.validate(spec), env), lines: env.lines };
}

async function closing<T>(filter: FilterInstance, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    await filter.close?.();
  }
}

Deno.test("Kafka spec: brokers and topics are checked, problems named", () => {
  roundTrip(kafkaKind, {
    backend: ["127.0.0.1:9092", "[::1]:9093", "kafka-1.local:9092"],
    topic: { default: "orders", dynamic: { header: "X-Topic" } },
  });
  assert.deepEqual(specProblems(kafkaKind, {}), ["backend: is required", "topic: is required"]);
  assert.deepEqual(
    specProblems(kafkaKind, {
      backend: ["127.0.0.1", "h:9092", "h:9092", "h:70000"],
      topic: { default: "a/b", extra: 1 },
    }),
    [
      'backend[0]: must be a broker\'s host:port, got "127.0.0.1"',
      'backend[2]: repeats "h:9092"',
      'backend[3]: must be a broker\'s host:port, got "h:70000"',
      'topic.default: must be a Kafka topic name, got "a/b"',
      "topic.extra: unknown field",
    ].sort(),
  );
  assert.deepEqual(specProblems(kafkaKind, { backend: [], topic: { default: "t" } }), [
    "backend: must name a broker",
  ]);
  // KafkaMQTT may rely on each publish's topic.
  roundTrip(kafkaMqttKind, {
    backend: ["127.0.0.1:9092"],
    topic: { default: "" },
    mqtt: { topicKey: "topic", headerKey: "headers" },
  });
});

Deno.test("Kafka: request bodies go to the default topic or the header's, client id the filter's name", async () => {
  const broker = startKafkaBroker();
  const { filter } = create(kafkaKind, {
    backend: [`127.0.0.1:${broker.port}`],
    topic: { default: "events", dynamic: { header: "X-Kafka-Topic" } },
  });
  try {
    await closing(filter, async () => {
      assert.equal(await filter.handle(contextFor({ method: "POST", body: "one" })), "");
      const routed = contextFor({
        method: "POST",
        headers: { "x-kafka-topic": "audit" },
        body: new Uint8Array([0, 1, 255]),
      });
      assert.equal(await filter.handle(routed), "");
      assert.equal(routed.response, undefined, "the filter sets no response");
      const illegal = contextFor({
        method: "POST",
        headers: { "x-kafka-topic": "a b" },
        body: "x",
      });
      assert.equal(await filter.handle(illegal), RESULT_PARSE_ERROR);
      const records = await broker.waitForRecords(2);
      assert.deepEqual(
        records.map((r) => [r.topic, [...(r.value ?? [])]]),
        [["events", [...new TextEncoder().encode("one")]], ["audit", [0, 1, 255]]],
      );
      assert.deepEqual([...broker.clientIds], ["test-filter"]);
      await eventuallyEqual(() => (filter.status?.() as { messagesSent: number }).messagesSent, 2);
    });
  } finally {
    await broker.close();
  }
});

Deno.test("KafkaMQTT: topic, headers and payload from the data, else from the packet", async () => {
  const broker = startKafkaBroker();
  const { filter } = create(kafkaMqttKind, {
    backend: [`127.0.0.1:${broker.port}`],
    topic: { default: "fallback" },
    mqtt: { topicKey: "topic", headerKey: "headers" },
  });
  try {
    await closing(filter, async () => {
      const mapped = publish({ topic: "gateway/g1/log", payload: new TextEncoder().encode("p1") });
      mapped.data.topic = "iot_phone";
      mapped.data.headers = { gateway: "g1", kind: "log" };
      assert.equal(await filter.handle(mapped), "");
      const unmapped = publish({ topic: "plain", payload: new TextEncoder().encode("p2") });
      assert.equal(await filter.handle(unmapped), RESULT_GET_DATA_FAILED, "topicKey is missing");
      const wrongType = publish({ topic: "plain", payload: new Uint8Array() });
      wrongType.data.topic = "t";
      wrongType.data.headers = { n: 1 };
      assert.equal(await filter.handle(wrongType), RESULT_GET_DATA_FAILED);
      const records = await broker.waitForRecords(1);
      assert.deepEqual(records.map((r) => [r.topic, text(r.value), r.headers]), [
        ["iot_phone", "p1", { gateway: "g1", kind: "log" }],
      ]);
    });
  } finally {
    await broker.close();
  }

  // Without `mqtt` keys: the packet's topic, then the default.
  const plain = create(kafkaMqttKind, { backend: ["127.0.0.1:1"], topic: { default: "d" } });
  await closing(plain.filter, async () => {
    const noPayload = new MqttContext({ type: "Subscribe", client, topics: ["a"] });
    assert.equal(await plain.filter.handle(noPayload), RESULT_GET_DATA_FAILED);
    assert.equal(
      await plain.filter.handle(publish({ topic: "x/y", payload: new Uint8Array() })),
      RESULT_GET_DATA_FAILED,
      "x/y is no Kafka topic",
    );
  });
});

Deno.test("Kafka: the cookbook's Kafka filter in an MQTT pipeline publishes as KafkaMQTT", async () => {
  const broker = startKafkaBroker();
  const { filter } = create(kafkaKind, {
    backend: [`127.0.0.1:${broker.port}`],
    topic: { default: "kafka-topic" },
    mqtt: { payloadKey: "payload" },
  });
  try {
    await closing(filter, async () => {
      const ctx = publish({ topic: "a/b", payload: new TextEncoder().encode("ignored") });
      ctx.data.payload = new TextEncoder().encode("from-data");
      assert.equal(await filter.handle(ctx), RESULT_PARSE_ERROR, "a/b is no Kafka topic");
      const ok = publish({ topic: "sensors", payload: new TextEncoder().encode("ignored") });
      ok.data.payload = new TextEncoder().encode("from-data");
      assert.equal(await filter.handle(ok), "");
      const records = await broker.waitForRecords(1);
      assert.deepEqual(records.map((r) => [r.topic, text(r.value)]), [["sensors", "from-data"]]);
    });
  } finally {
    await broker.close();
  }
});

Deno.test("Kafka: with no broker answering, requests go on and the drops are counted and logged", async () => {
  const port = freePort();
  const { filter, lines } = create(kafkaKind, {
    backend: [`127.0.0.1:${port}`],
    topic: { default: "events" },
  });
  await closing(filter, async () => {
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      assert.equal(await filter.handle(contextFor({ method: "POST", body: `m${i}` })), "");
    }
    assert.ok(Date.now() - started < 1000, "handing a message over does not wait for the broker");
    await eventuallyEqual(
      () => (filter.status?.() as { messagesFailed: number }).messagesFailed,
      3,
    );
    const status = filter.status?.() as {
      messagesSent: number;
      messagesPending: number;
      lastError: string;
    };
    assert.equal(status.messagesSent, 0);
    assert.equal(status.messagesPending, 0);
    assert.match(status.lastError, /ECONNREFUSED|connect/i);
    assert.ok(
      lines.some((l) => l.startsWith("error: kafka producer") && l.includes("dropped")),
      lines.join("\n"),
    );
  });
});

Deno.test("Kafka: closing sends what is queued first", async () => {
  const broker = startKafkaBroker();
  const { filter } = create(kafkaKind, {
    backend: [`127.0.0.1:${broker.port}`],
    topic: { default: "events" },
  });
  try {
    for (let i = 0; i < 50; i++) {
      await filter.handle(contextFor({ method: "POST", body: `m${i}` }));
    }
    await filter.close?.();
    assert.equal(broker.records.length, 50);
    assert.deepEqual(broker.records.map((r) => text(r.value)).slice(0, 3), ["m0", "m1", "m2"]);
  } finally {
    await broker.close();
  }
});

async function eventuallyEqual(read: () => unknown, expected: unknown): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (read() !== expected) {
    if (Date.now() > deadline) assert.equal(read(), expected);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("KafkaProducer: messages handed over in one run go out in one produce request", async () => {
  const broker = startKafkaBroker();
  const producer = new KafkaProducer([`127.0.0.1:${broker.port}`], "batcher", testEnv().log);
  try {
    for (let i = 0; i < 20; i++) {
      producer.send({ topic: i % 2 ? "odd" : "even", value: new TextEncoder().encode(`${i}`) });
    }
    await broker.waitForRecords(20);
    assert.equal(broker.produceRequests, 1);
    await eventuallyEqual(() => producer.status().messagesSent, 20);
    assert.deepEqual(producer.status(), {
      messagesSent: 20,
      messagesFailed: 0,
      messagesPending: 0,
      lastError: "",
    });
  } finally {
    await producer.close();
    await broker.close();
  }
});
