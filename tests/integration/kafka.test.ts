/**
 * The Kafka and KafkaMQTT filters through the real binary, publishing to a
 * broker on a real socket (see kafka_broker.ts): HTTP request bodies by
 * header-chosen topic, MQTT publishes mapped by TopicMapper with Eclipse
 * Mosquitto's `mosquitto_pub`, with two workers, and the filters' status.
 */

import assert from "node:assert/strict";
import { startKafkaBroker } from "./kafka_broker.ts";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

const text = (bytes: Uint8Array | null) => new TextDecoder().decode(bytes ?? new Uint8Array());

Deno.test("Kafka: HTTP bodies reach the broker, by default or header topic, with two workers", async () => {
  const broker = startKafkaBroker();
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const created = await node.ctl(
      ["object", "create"],
      `kind: Pipeline
name: to-kafka
flow:
- filter: kafka
  jumpIf: {parseErr: refused}
- filter: accepted
- filter: END
- filter: refused
filters:
- name: kafka
  kind: Kafka
  backend: [127.0.0.1:${broker.port}]
  topic:
    default: events
    dynamic: {header: X-Kafka-Topic}
- name: accepted
  kind: ResponseBuilder
  template: "statusCode: 202"
- name: refused
  kind: ResponseBuilder
  template: "statusCode: 400"
---
kind: HTTPServer
name: front
port: ${port}
rules:
- paths:
  - {pathPrefix: /, backend: to-kafka}
`,
    );
    assert.equal(created.code, 0, created.stderr);
    const post = (body: string, topic?: string) =>
      request(`http://127.0.0.1:${port}/publish`, {
        method: "POST",
        body,
        headers: topic ? { "x-kafka-topic": topic, connection: "close" } : { connection: "close" },
      });
    await eventually("the server answering", async () => (await post("first")).status === 202);
    const sent = ["first"];
    for (let i = 0; i < 20; i++) {
      const topic = i % 2 ? "audit" : undefined;
      assert.equal((await post(`m${i}`, topic)).status, 202);
      sent.push(`m${i}`);
    }
    assert.equal((await post("x", "no/slashes")).status, 400, "an illegal topic name");
    const records = await broker.waitForRecords(sent.length);
    assert.deepEqual(records.map((r) => text(r.value)).sort(), [...sent].sort());
    const audit = records.filter((r) => r.topic === "audit").map((r) => text(r.value));
    assert.deepEqual(audit.sort(), sent.filter((_, i) => i > 0 && (i - 1) % 2 === 1).sort());
    assert.deepEqual([...broker.clientIds], ["kafka"], "the client id is the filter's name");

    // The status sums both workers' producers.
    let status = "";
    await eventually("the status counting every message", async () => {
      status = (await node.ctl(["object", "status", "get", "to-kafka", "-o", "json"])).stdout;
      return status.includes(`"messagesSent": ${sent.length},`);
    }).catch((e) => assert.fail(`${e}: ${status}`));
    assert.doesNotMatch(node.output(), /Warning/, "the Kafka client's timers print nothing");
  } finally {
    await node.stop();
    await broker.close();
  }
});

Deno.test("KafkaMQTT: MQTT publishes mapped by TopicMapper reach Kafka with their headers", async () => {
  const broker = startKafkaBroker();
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    const created = await node.ctl(
      ["object", "create"],
      `kind: Pipeline
name: mqtt-kafka
flow:
- filter: mapper
  jumpIf: {MQTTTopicMapFailed: END}
- filter: kafka
filters:
- name: mapper
  kind: TopicMapper
  matchIndex: 0
  route:
  - {name: gateway, matchExpr: "^gate"}
  policies:
  - name: gateway
    topicIndex: 2
    route:
    - {topic: iot_phone, exprs: ["iphone", "pixel"]}
    headers: {1: gatewayID, 2: device, 3: status}
  setKV: {topic: kafka-topic, headers: kafka-headers}
- name: kafka
  kind: KafkaMQTT
  backend: [127.0.0.1:${broker.port}]
  topic: {default: unmapped}
  mqtt: {topicKey: kafka-topic, headerKey: kafka-headers}
---
kind: MQTTProxy
name: mq
port: ${port}
rules:
- when: {packetType: Publish}
  pipeline: mqtt-kafka
`,
    );
    assert.equal(created.code, 0, created.stderr);
    const pub = async (topic: string, message: string) => {
      const out = await new Deno.Command("mosquitto_pub", {
        args: [
          "-h",
          "127.0.0.1",
          "-p",
          String(port),
          "-i",
          "gw",
          "-q",
          "1",
          "-t",
          topic,
          "-m",
          message,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      return out.code;
    };
    await eventually("the proxy accepting", async () => await pub("other/x", "probe") === 0);
    assert.equal(await pub("gate123/g1/iphone/log", "battery 80"), 0);
    assert.equal(await pub("gate123/g2/pixel/alarm", "smoke"), 0);
    const records = await broker.waitForRecords(2);
    assert.deepEqual(
      records.map((r) => [r.topic, text(r.value), r.headers]),
      [
        ["iot_phone", "battery 80", { gatewayID: "g1", device: "iphone", status: "log" }],
        ["iot_phone", "smoke", { gatewayID: "g2", device: "pixel", status: "alarm" }],
      ],
      "the unmapped probe ended at TopicMapper",
    );
  } finally {
    await node.stop();
    await broker.close();
  }
});

Deno.test("EaseMonitorMetrics: the node's HTTP statistics reach Kafka every 5 s", async () => {
  const broker = startKafkaBroker();
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const node = await startNodeProcess({ args: ["--name", "eg-a", "--cluster-name", "c9"] });
  const port = freePort();
  try {
    const created = await node.ctl(
      ["object", "create"],
      `kind: Pipeline
name: pl
filters:
- name: proxy
  kind: Proxy
  pools:
  - servers: [{url: "http://127.0.0.1:${backend.addr.port}"}]
---
kind: HTTPServer
name: front
port: ${port}
rules:
- paths:
  - {pathPrefix: /, backend: pl}
---
kind: EaseMonitorMetrics
name: emm
kafka:
  brokers: [127.0.0.1:${broker.port}]
  topic: eg-metrics
`,
    );
    assert.equal(created.code, 0, created.stderr);
    await eventually(
      "the server answering",
      async () => (await request(`http://127.0.0.1:${port}/a`)).status === 200,
    );
    for (let i = 0; i < 4; i++) {
      assert.equal((await request(`http://127.0.0.1:${port}/a`)).status, 200);
    }
    type Metric = Record<string, string | number>;
    const metrics = () => broker.records.map((r) => JSON.parse(text(r.value)) as Metric);
    const served = (m: Metric) =>
      m.type === "eg-http-request" && m.service === "front" && m.resource === "SERVER";
    const pooled = (m: Metric) => m.service === "pl/proxy/mainPool" && m.resource === "PROXY";
    await eventually(
      "the server's and the pool's totals in Kafka",
      () =>
        Promise.resolve(
          metrics().filter(served).reduce((n, m) => n + Number(m.cnt), 0) >= 5 &&
            metrics().some(pooled),
        ),
      20_000,
    );
    const all = metrics();
    assert.ok(broker.records.every((r) => r.topic === "eg-metrics"));
    assert.deepEqual([...broker.clientIds], ["emm"]);
    const server = all.find(served)!;
    assert.equal(server.host_name, "eg-a");
    assert.equal(server.system, "c9");
    assert.equal(server.category, "application");
    assert.equal(Number(server.timestamp) % 1000, 0);
    assert.ok(all.some((m) => m.resource === "SERVER_TOPN" && m.url === "/a"));
    assert.ok(all.some((m) => m.type === "eg-http-status-code" && m.code === 200));
    const status = await node.ctl(["object", "status", "get", "emm", "-o", "json"]);
    assert.match(status.stdout, /"health": "ready"/);
    const listed = await node.ctl(["get", "emm"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /emm/);
  } finally {
    await node.stop();
    await backend.shutdown();
    await broker.close();
  }
});
