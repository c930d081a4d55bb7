import assert from "node:assert/strict";
import { MqttContext, type MqttPacket } from "../../../filters/mqtt_context.ts";
import { mqttClientAuthKind, RESULT_AUTH_FAIL } from "../../../filters/mqtt_client_auth.ts";
import { connectControlKind, RESULT_BANNED } from "../../../filters/connect_control.ts";
import { RESULT_MAP_FAILED, topicMapperKind } from "../../../filters/topic_mapper.ts";
import {
  topicFilterProblem,
  topicMatches,
  topicNameProblem,
} from "../../../server/mqtt/topic_filter.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const client = { clientID: "c1", username: "dev", remoteAddr: "127.0.0.1:5000" };
const packet = (fields: Partial<MqttPacket>): MqttContext =>
  new MqttContext({ type: "Publish", client, ...fields });

Deno.test("MQTTClientAuth: hex SHA-256 of password + salt; empty client ids and HTTP contexts", async () => {
  const hash = [
    ...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("pwsalt"))),
  ]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const auth = build(mqttClientAuthKind, {
    salt: "salt",
    auth: [{ username: "dev", saltedSha256Pass: hash }],
  });
  const connect = (password: string, clientID = "c1") => {
    const ctx = new MqttContext({
      type: "Connect",
      client: { ...client, clientID },
      password: new TextEncoder().encode(password),
    });
    return [auth.handle(ctx), ctx.disconnect];
  };
  assert.deepEqual(connect("pw"), ["", false]);
  assert.deepEqual(connect("bad"), [RESULT_AUTH_FAIL, true]);
  assert.deepEqual(connect("pw", ""), [RESULT_AUTH_FAIL, true]);
  assert.equal(auth.handle(packet({ topic: "a" })), "", "publishes pass");
  assert.equal(auth.handle(contextFor()), "", "an HTTP context passes");
});

Deno.test("ConnectControl: banned clients and topics disconnect; the status is the spec's", () => {
  const control = build(connectControlKind, {
    bannedClients: ["evil"],
    bannedClientRe: "^bot-",
    bannedTopics: ["secret"],
    bannedTopicRe: "^admin/",
  });
  const publish = (clientID: string, topic: string) => {
    const ctx = new MqttContext({ type: "Publish", client: { ...client, clientID }, topic });
    return [control.handle(ctx), ctx.disconnect];
  };
  assert.deepEqual(publish("evil", "a"), [RESULT_BANNED, true]);
  assert.deepEqual(publish("bot-7", "a"), [RESULT_BANNED, true]);
  assert.deepEqual(publish("c1", "secret"), [RESULT_BANNED, true]);
  assert.deepEqual(publish("c1", "admin/x"), [RESULT_BANNED, true]);
  assert.deepEqual(publish("c1", "sensors/x"), ["", false]);
  // As Easegress's Status: the spec's regexps and list lengths, not bans counted; empty fields
  // are left out (omitempty).
  const status = {
    bannedClientRe: "^bot-",
    bannedClientNum: 1,
    bannedTopicRe: "^admin/",
    bannedTopicNum: 1,
  };
  assert.deepEqual(control.status?.(), status);
  publish("evil", "a");
  assert.deepEqual(control.status?.(), status, "bans do not change it");
  const topics = build(connectControlKind, { bannedTopics: ["a", "b", "c"] });
  assert.deepEqual(topics.status?.(), { bannedTopicNum: 3 });
  assert.deepEqual(build(connectControlKind, {}).status?.(), {});
});

Deno.test("TopicMapper: the cookbook's gateway topic becomes a target topic and headers", () => {
  const spec = {
    matchIndex: 0,
    route: [{ name: "gateway", matchExpr: "gate*" }, { name: "direct", matchExpr: "dir*" }],
    policies: [
      {
        name: "direct",
        topicIndex: 1,
        route: [{ topic: "iot_phone", exprs: ["iphone", "xiaomi"] }, {
          topic: "iot_other",
          exprs: [".*"],
        }],
        headers: { 0: "direct", 1: "device", 2: "status" },
      },
      {
        name: "gateway",
        topicIndex: 2,
        route: [{ topic: "iot_phone", exprs: ["iphone", "xiaomi"] }],
        headers: { 0: "gateway", 1: "gatewayID", 2: "device", 3: "status" },
      },
    ],
    setKV: { topic: "topic-key", headers: "headers-key" },
  };
  roundTrip(topicMapperKind, spec);
  const mapper = build(topicMapperKind, spec);
  const ctx = packet({ topic: "gateway/gate123/iphone/log" });
  assert.equal(mapper.handle(ctx), "");
  assert.equal(ctx.data["topic-key"], "iot_phone");
  assert.deepEqual(ctx.data["headers-key"], {
    gateway: "gateway",
    gatewayID: "gate123",
    device: "iphone",
    status: "log",
  });
  const direct = packet({ topic: "/direct/nokia/on" });
  assert.equal(mapper.handle(direct), "");
  assert.equal(direct.data["topic-key"], "iot_other");
  assert.equal(mapper.handle(packet({ topic: "gateway/g1/nokia/log" })), RESULT_MAP_FAILED);
  assert.equal(mapper.handle(packet({ topic: "other/x" })), RESULT_MAP_FAILED);
});

Deno.test("topic filters: + one level, # the rest and the parent, $ topics kept from wildcards", () => {
  const cases: [string, string, boolean][] = [
    ["a/b", "a/b", true],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/#", "a/b/c", true],
    ["a/#", "a", true],
    ["#", "a/b", true],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/+/c", "a//c", true],
    ["a/b", "a/c", false],
  ];
  for (const [filter, topic, expected] of cases) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} ~ ${topic}`);
  }
  assert.equal(topicFilterProblem("a/#/b"), '"#" must be a whole level, and the last');
  assert.equal(topicFilterProblem("a/b+"), '"+" must be a whole level');
  assert.equal(topicFilterProblem("a/+/#"), undefined);
});

Deno.test("TopicMapper: a policy's headers must map level indexes to header names", () => {
  const spec = (headers: unknown) => ({
    matchIndex: 0,
    route: [{ name: "p", matchExpr: ".*" }],
    policies: [{ name: "p", topicIndex: 0, route: [{ topic: "t", exprs: [".*"] }], headers }],
    setKV: { topic: "topic", headers: "headers" },
  });
  for (
    const [headers, problem] of [
      ["abc", 'policies[0].headers: must be a map of strings, got "abc"'],
      [["a", "b"], "policies[0].headers: must be a map of strings, got a list"],
      [{ 0: { x: 1 } }, "policies[0].headers.0: must be a string, got an object"],
      [{ 0: null }, "policies[0].headers.0: must be a string, got null"],
      [{ x: "a" }, "policies[0].headers.x: must be a level index"],
    ] as const
  ) {
    assert.deepEqual(specProblems(topicMapperKind, spec(headers)), [problem]);
  }
  assert.deepEqual(topicMapperKind.validate(spec({ 1: "device", 2: 7 })).policies[0].headers, {
    1: "device",
    2: "7",
  });
});

Deno.test("MQTTClientAuth: an empty saltedSha256Pass is refused as no SHA-256, a missing one as required", () => {
  const spec = (user: Record<string, unknown>) => ({ auth: [{ username: "dev", ...user }] });
  assert.deepEqual(specProblems(mqttClientAuthKind, spec({ saltedSha256Pass: "" })), [
    "auth[0].saltedSha256Pass: must be a hex SHA-256 (64 hex digits)",
  ]);
  assert.deepEqual(specProblems(mqttClientAuthKind, spec({})), [
    "auth[0].saltedSha256Pass: is required",
  ]);
});

Deno.test("TopicMapper: setKV may name only the topic's key or only the headers'", () => {
  const spec = (setKV: Record<string, unknown>) => ({
    matchIndex: 0,
    route: [{ name: "p", matchExpr: ".*" }],
    policies: [{
      name: "p",
      topicIndex: 1,
      route: [{ topic: "t", exprs: [".*"] }],
      headers: { 0: "h" },
    }],
    setKV,
  });
  const topicOnly = build(topicMapperKind, spec({ topic: "topic-key" }));
  const ctx = packet({ topic: "a/b" });
  assert.equal(topicOnly.handle(ctx), "");
  assert.deepEqual(ctx.data, { "topic-key": "t" });
  const headersOnly = build(topicMapperKind, spec({ headers: "headers-key" }));
  const other = packet({ topic: "a/b" });
  assert.equal(headersOnly.handle(other), "");
  assert.deepEqual(other.data, { "headers-key": { h: "a" } });
  assert.deepEqual(specProblems(topicMapperKind, spec({ topic: 1 })), [
    "setKV.topic: must be a string, got number 1",
  ]);
});

Deno.test("topicNameProblem: a topic name has at most 65535 UTF-8 bytes", () => {
  assert.equal(topicNameProblem("a".repeat(65_535)), undefined);
  assert.equal(topicNameProblem("é".repeat(32_767)), undefined);
  assert.equal(topicNameProblem("é".repeat(32_768)), "has 65536 bytes, more than 65535");
  assert.equal(topicNameProblem("a".repeat(70_000)), "has 70000 bytes, more than 65535");
});
