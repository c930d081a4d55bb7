/**
 * MQTTProxy in this process, spoken to with raw packets: empty client ids
 * with and without MQTTClientAuth, SUBSCRIBEs that break the protocol, and
 * a TLS listener's client that never sends its ClientHello.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt from "mqtt-packet";
import type { Context } from "../../../filters/context.ts";
import { mqttClientAuthKind } from "../../../filters/mqtt_client_auth.ts";
import { MQTTProxy, type MqttProxyEnv } from "../../../server/mqtt/proxy.ts";
import { firstPacketProblem, MAX_CONNECT_LENGTH } from "../../../server/mqtt/connection.ts";
import type { MQTTProxySpec } from "../../../server/mqtt/spec.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { build } from "../filters/_helpers.ts";
import { builtinFilters } from "../../../filters/registry.ts";
import { SpecReader } from "../../../filters/spec.ts";
import { silentLogger } from "../../../server/log.ts";
import { Pipeline } from "../../../server/pipeline/pipeline.ts";
import { readPipelineSpec } from "../../../server/pipeline/spec.ts";
import { validateObject } from "../../../server/objects.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** An MQTTProxy spec on `port` with nothing set: no TLS, no rules, no limits. */
function plainSpec(port: number): MQTTProxySpec {
  return {
    name: "mq",
    kind: "MQTTProxy",
    port,
    useTLS: false,
    certificate: [],
    topicCacheSize: 0,
    maxAllowedConnection: 0,
    rules: [],
    brokerMode: false,
  };
}

/** A running proxy on a free port, and what it logged ("level message" lines). */
async function startProxy(
  fields: Partial<MQTTProxySpec> = {},
  pipelines: Record<string, { handle(ctx: Context): string | Promise<string> }> = {},
  env: Partial<MqttProxyEnv> = {},
): Promise<{ proxy: MQTTProxy; port: number; logs: string[] }> {
  const port = fields.port ?? freePort();
  const logs: string[] = [];
  const log = (level: string) => (message: string) => logs.push(`${level} ${message}`);
  const proxy = new MQTTProxy({ ...plainSpec(port), ...fields }, {
    pipeline: (name) => pipelines[name],
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    ...env,
  });
  for (let tries = 0; proxy.status().state !== "running"; tries++) {
    assert.ok(tries < 100, `the proxy is ${proxy.status().state}: ${proxy.status().error}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proxy, port, logs };
}

function connectPacket(clientId: string, clean = true): Uint8Array {
  const packet = new Uint8Array(
    mqtt.generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId,
      clean: true,
      keepalive: 60,
      username: "dev",
      password: Buffer.from("secret"),
    }) as unknown as Uint8Array,
  );
  // The connect flags follow the fixed header (2 bytes here), "MQTT" (6) and the level (1);
  // mqtt-packet will not write an empty id with CleanSession 0.
  if (!clean) packet[9] &= ~0x02;
  return packet;
}

/** Reads exactly `length` bytes. */
async function readBytes(conn: Deno.Conn, length: number): Promise<number[]> {
  const buf = new Uint8Array(length);
  for (let at = 0; at < length;) {
    const n = await conn.read(buf.subarray(at));
    assert.notEqual(n, null, `closed after ${at} of ${length} bytes`);
    at += n!;
  }
  return [...buf];
}

/** Marks, in what {@linkcode afterConnect} returns, a connection still open after 3 s. */
const STILL_OPEN = -1;

/**
 * Connects as client c1 and, once accepted, sends `packet`; returns what
 * the proxy sends after the CONNACK, until it closes the connection (or,
 * ending in {@linkcode STILL_OPEN}, until 3 s have passed).
 */
async function afterConnect(port: number, packet: number[]): Promise<number[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const deadline = setTimeout(() => conn.close(), 3_000);
  const got: number[] = [];
  try {
    await conn.write(connectPacket("c1"));
    assert.deepEqual(await readBytes(conn, 4), [0x20, 2, 0, 0]);
    await conn.write(new Uint8Array(packet));
    const buf = new Uint8Array(64);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      got.push(...buf.subarray(0, n));
    }
    return got;
  } catch (e) {
    if (e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.BadResource) {
      return [...got, STILL_OPEN];
    }
    throw e;
  } finally {
    clearTimeout(deadline);
    try {
      conn.close();
    } catch { /* closed at the deadline */ }
  }
}

/** The return code of the CONNACK the proxy answers `packet` with. */
async function connack(port: number, packet: Uint8Array): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(packet);
    const [type, , , code] = await readBytes(conn, 4);
    assert.equal(type, 0x20, "a CONNACK");
    return code;
  } finally {
    conn.close();
  }
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("MQTTProxy: an empty client id fails MQTTClientAuth (CONNACK 5); without auth one is assigned", async () => {
  const auth = build(mqttClientAuthKind, {
    salt: "pepper",
    auth: [{ username: "dev", saltedSha256Pass: await sha256Hex("secretpepper") }],
  });
  const seen: string[] = [];
  const { proxy, port } = await startProxy(
    { rules: [{ when: { packetType: "Connect" }, pipeline: "auth" }] },
    { auth: { handle: (ctx) => auth.handle(ctx) } },
  );
  const open = await startProxy({}, {});
  // A Connect pipeline without MQTTClientAuth lets it in: the id is assigned after it ran.
  const other = await startProxy(
    { rules: [{ when: { packetType: "Connect" }, pipeline: "log" }] },
    {
      log: {
        handle(ctx) {
          seen.push(
            (ctx as unknown as { packet: { client: { clientID: string } } }).packet
              .client.clientID,
          );
          return "";
        },
      },
    },
  );
  try {
    assert.equal(await connack(port, connectPacket("c1")), 0, "valid credentials and an id");
    assert.equal(await connack(port, connectPacket("")), 5, "valid credentials, no id");
    // CleanSession 0 without an id is refused before any pipeline (MQTT-3.1.3-8).
    assert.equal(await connack(port, connectPacket("", false)), 2);
    assert.equal(await connack(open.port, connectPacket("")), 0, "no auth: an id is assigned");
    assert.equal(await connack(other.port, connectPacket("")), 0);
    assert.deepEqual(seen, [""]);
  } finally {
    await proxy.close();
    await open.proxy.close();
    await other.proxy.close();
  }
});

Deno.test("MQTTProxy: proxies told to reuse their port share it, as nodes on one host do", async () => {
  const first = await startProxy({}, {}, { reusePort: true });
  const second = await startProxy({ port: first.port }, {}, { reusePort: true });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: first.port });
    await conn.write(connectPacket("c1"));
    assert.deepEqual(await readBytes(conn, 4), [0x20, 2, 0, 0]);
    conn.close();
  } finally {
    await first.proxy.close();
    await second.proxy.close();
  }
});

Deno.test("MQTTProxy: a SUBSCRIBE asking for QoS 3, or for nothing, closes the client, saying why", async () => {
  const { proxy, port, logs } = await startProxy();
  try {
    assert.deepEqual(await afterConnect(port, [0x82, 6, 0, 1, 0, 1, 0x61, 3]), [], "QoS 3");
    // SUBSCRIBE and UNSUBSCRIBE without a topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2).
    assert.deepEqual(await afterConnect(port, [0x82, 2, 0, 1]), []);
    assert.deepEqual(await afterConnect(port, [0xa2, 2, 0, 1]), []);
    // A good SUBSCRIBE still gets its SUBACK (QoS 2 granted as 1).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(connectPacket("c1"));
    await readBytes(conn, 4);
    await conn.write(new Uint8Array([0x82, 6, 0, 1, 0, 1, 0x61, 2]));
    assert.deepEqual(await readBytes(conn, 5), [0x90, 3, 0, 1, 1]);
    conn.close();
    assert.deepEqual(logs.filter((l) => /cannot write/.test(l)), []);
    const said = logs.join("\n");
    assert.match(said, /Invalid subscribe QoS, must be <= 2/);
    assert.match(said, /SUBSCRIBE without a topic filter, closing/);
    assert.match(said, /UNSUBSCRIBE without a topic filter, closing/);
  } finally {
    await proxy.close();
  }
});

Deno.test({
  name: "MQTTProxy over TLS: a client that sends no ClientHello is closed after 10 s",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
    const { proxy, port } = await startProxy({
      useTLS: true,
      certificate: [{ name: "c", cert: tls.cert, key: tls.key }],
    });
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // A TLS client still gets its CONNACK.
      const client = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [tls.cert] });
      await client.write(connectPacket("c1"));
      assert.deepEqual(await readBytes(client, 4), [0x20, 2, 0, 0]);
      client.close();

      const start = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = await Promise.race([
        silent.read(new Uint8Array(16)).catch(() => null),
        new Promise<"open">((resolve) => timer = setTimeout(() => resolve("open"), 20_000)),
      ]);
      clearTimeout(timer);
      const waited = Date.now() - start;
      assert.equal(read, null, "the silent client's TCP connection was closed");
      assert.ok(waited >= 9_000 && waited < 13_000, `closed after ${waited} ms`);
    } finally {
      silent.close();
      await proxy.close();
      await Deno.remove(tls.dir, { recursive: true });
    }
  },
});

/** Reads one PUBLISH the proxy sends (no longer than 127 bytes): its DUP flag, packet id and payload. */
async function readPublish(
  conn: Deno.Conn,
): Promise<{ dup: boolean; id: number; payload: string }> {
  const [type, length] = await readBytes(conn, 2);
  assert.equal(type & 0xf0, 0x30, `a PUBLISH, got type 0x${type.toString(16)}`);
  const rest = await readBytes(conn, length);
  const topicEnd = 2 + (rest[0] << 8 | rest[1]);
  return {
    dup: (type & 0x08) !== 0,
    id: rest[topicEnd] << 8 | rest[topicEnd + 1],
    payload: new TextDecoder().decode(new Uint8Array(rest.slice(topicEnd + 2))),
  };
}

/** Connects on `conn` as client c1 and subscribes to topic "t" with QoS 1 (CONNACK, SUBACK read). */
async function subscribeAsC1(conn: Deno.Conn): Promise<void> {
  await conn.write(connectPacket("c1"));
  await readBytes(conn, 4);
  await conn.write(new Uint8Array([0x82, 6, 0, 1, 0, 1, 0x74, 1])); // topic "t", QoS 1
  await readBytes(conn, 5);
}

Deno.test("MQTTProxy: an unacknowledged QoS 1 message is sent again 200 ms after it went, then flagged DUP", async () => {
  const { proxy, port } = await startProxy();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await subscribeAsC1(conn);
    // The resend timer ticks every 200 ms; a message sent just before a tick waits its own 200 ms.
    for (let i = 0; i < 3; i++) {
      const sent = Date.now();
      proxy.publish({ topic: "t", payload: new TextEncoder().encode(`m${i}`), qos: 1 });
      const first = await readPublish(conn);
      assert.deepEqual([first.dup, first.payload], [false, `m${i}`]);
      const again = await readPublish(conn);
      const waited = Date.now() - sent;
      assert.deepEqual([again.dup, again.id], [true, first.id]);
      assert.ok(waited >= 190, `sent again after ${waited} ms`);
      await conn.write(new Uint8Array([0x40, 2, first.id >> 8, first.id & 0xff]));
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    conn.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: QoS 1 messages queued for an absent persistent session arrive without DUP", async () => {
  const { proxy, port } = await startProxy();
  try {
    const away = await Deno.connect({ hostname: "127.0.0.1", port });
    const persistent = connectPacket("keeper");
    persistent[9] &= ~0x02;
    await away.write(persistent);
    await readBytes(away, 4);
    await away.write(new Uint8Array([0x82, 6, 0, 1, 0, 1, 0x74, 1]));
    await readBytes(away, 5);
    await away.write(new Uint8Array([0xe0, 0])); // DISCONNECT
    away.close();
    for (let tries = 0; proxy.status().clients !== 0; tries++) {
      assert.ok(tries < 100, "the client left");
      await new Promise((r) => setTimeout(r, 20));
    }
    proxy.publish({ topic: "t", payload: new TextEncoder().encode("missed"), qos: 1 });
    const back = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await back.write(persistent);
      assert.deepEqual(await readBytes(back, 4), [0x20, 2, 1, 0], "session present");
      const message = await readPublish(back);
      assert.deepEqual([message.dup, message.payload], [false, "missed"]);
    } finally {
      back.close();
    }
  } finally {
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a PUBLISH or will whose topic name has a wildcard, NUL or nothing closes the client", async () => {
  const published: string[] = [];
  const { proxy, port, logs } = await startProxy(
    { brokerMode: true, rules: [{ when: { packetType: "Publish" }, pipeline: "seen" }] },
    {
      seen: {
        handle(ctx) {
          published.push((ctx as unknown as { packet: { topic: string } }).packet.topic);
          return "";
        },
      },
    },
  );
  try {
    const publish = (topic: number[]) => [0x32, topic.length + 4, 0, topic.length, ...topic, 0, 1];
    // QoS 1, then PINGREQ: an accepted PUBLISH would get PUBACK and PINGRESP.
    assert.deepEqual(
      await afterConnect(port, [...publish([0x61, 0x2f, 0x23]), 0xc0, 0]),
      [],
      "a/#",
    );
    assert.deepEqual(await afterConnect(port, [...publish([0x2b]), 0xc0, 0]), [], "+");
    assert.deepEqual(await afterConnect(port, [...publish([0x61, 0, 0x62]), 0xc0, 0]), [], "NUL");
    assert.deepEqual(await afterConnect(port, [...publish([]), 0xc0, 0]), [], "empty");
    assert.deepEqual(
      await afterConnect(port, [...publish([0x61]), 0xc0, 0]),
      [0x40, 2, 0, 1, 0xd0, 0, STILL_OPEN],
      "a good topic is acknowledged",
    );
    assert.deepEqual(published, ["a"]);
    const will = new Uint8Array(
      mqtt.generate({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: "w1",
        clean: true,
        keepalive: 60,
        will: { topic: "gone/#", payload: Buffer.from("x"), qos: 0, retain: false },
      }) as unknown as Uint8Array,
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(will);
    assert.equal(await conn.read(new Uint8Array(4)), null, "no CONNACK for a wildcard will topic");
    conn.close();
    assert.match(
      logs.join("\n"),
      /PUBLISH topic "a\/#" has a wildcard or a NUL character, closing/,
    );
  } finally {
    await proxy.close();
  }
});

/**
 * A reader of the PUBLISHes `conn` receives (acknowledging QoS 1 ones):
 * each call returns those that came until none did for 1 s.
 */
function publishReader(conn: Deno.Conn): () => Promise<mqtt.IPublishPacket[]> {
  const parser = mqtt.parser({ protocolVersion: 4 });
  let received: mqtt.IPublishPacket[] = [];
  parser.on("packet", (packet: mqtt.Packet) => {
    if (packet.cmd !== "publish") return;
    received.push(packet);
    if (packet.qos === 1) {
      const ack = mqtt.generate({ cmd: "puback", messageId: packet.messageId });
      conn.write(ack as unknown as Uint8Array);
    }
  });
  const buf = new Uint8Array(256 * 1024);
  // A read outlasting a quiet second is the next call's to finish: its bytes are not lost.
  let reading: Promise<number | null> | undefined;
  return async () => {
    for (;;) {
      reading ??= conn.read(buf);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        reading,
        new Promise<"quiet">((resolve) => timer = setTimeout(() => resolve("quiet"), 1_000)),
      ]).finally(() => clearTimeout(timer));
      if (n !== "quiet") reading = undefined;
      if (n === "quiet" || n === null) {
        const got = received;
        received = [];
        return got;
      }
      parser.parse(Buffer.from(buf.subarray(0, n)));
    }
  };
}

Deno.test("MQTTProxy: a subscriber that stops reading holds at most a few MB: QoS 0 beyond is dropped, QoS 1 waits", async () => {
  const { proxy, port } = await startProxy();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await subscribeAsC1(conn);
    const read = publishReader(conn);
    const mib = new Uint8Array(1024 * 1024);
    // 40 MiB for a client that reads nothing meanwhile.
    for (let i = 0; i < 40; i++) proxy.publish({ topic: "t", payload: mib, qos: 0 });
    await new Promise((r) => setTimeout(r, 300));
    const qos0 = (await read()).length;
    assert.ok(qos0 > 0 && qos0 < 20, `${qos0} of 40 QoS 0 messages kept`);
    // QoS 1 messages are all written, as the client makes room.
    for (let i = 0; i < 12; i++) proxy.publish({ topic: "t", payload: mib, qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const ids = new Set((await read()).map((p) => p.messageId));
    assert.equal(ids.size, 12);
  } finally {
    conn.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a QoS 2 PUBLISH runs its pipeline once, PUBREC until PUBREL, then PUBCOMP", async () => {
  const published: string[] = [];
  const { proxy, port } = await startProxy(
    { rules: [{ when: { packetType: "Publish" }, pipeline: "seen" }] },
    {
      seen: {
        handle(ctx) {
          const { payload, qos } =
            (ctx as unknown as { packet: { payload: Uint8Array; qos: number } })
              .packet;
          published.push(`${new TextDecoder().decode(payload)}@${qos}`);
          return "";
        },
      },
    },
  );
  try {
    const publish = (
      dup: boolean,
      payload: number,
    ) => [0x34 | (dup ? 8 : 0), 6, 0, 1, 0x74, 0, 7, payload];
    const pubrel = [0x62, 2, 0, 7];
    assert.deepEqual(
      await afterConnect(port, [
        ...publish(false, 0x61),
        ...publish(true, 0x61), // PUBREC lost: sent again, the same message
        ...pubrel,
        ...pubrel, // PUBCOMP lost: released again
        ...publish(false, 0x62), // the id free again: a new message
      ]),
      [0x50, 2, 0, 7, 0x50, 2, 0, 7, 0x70, 2, 0, 7, 0x70, 2, 0, 7, 0x50, 2, 0, 7, STILL_OPEN],
    );
    assert.deepEqual(published, ["a@2", "b@2"]);
  } finally {
    await proxy.close();
  }
});

Deno.test({
  name:
    "MQTTProxy: a client closed while its Connect pipeline runs is not counted once the pipeline returns",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let release = () => {};
    const slow = new Promise<void>((resolve) => release = resolve);
    const { proxy, port } = await startProxy(
      {
        maxAllowedConnection: 1,
        rules: [{ when: { packetType: "Connect" }, pipeline: "slow" }],
      },
      { slow: { handle: () => slow.then(() => "") } },
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(connectPacket("late"));
      // No CONNACK within 10 s: the proxy gives up on the connection.
      assert.equal(await conn.read(new Uint8Array(4)), null);
      release();
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual([proxy.status().clients, proxy.status().sessions], [0, 0]);
      assert.equal(await connack(port, connectPacket("next")), 0, "the one place is free");
    } finally {
      conn.close();
      await proxy.close();
    }
  },
});

Deno.test("MQTTProxy: a clientPublishLimit set or lifted by an update applies to connected clients", async () => {
  const { proxy, port } = await startProxy();
  const spec = plainSpec(port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(connectPacket("c1"));
    await readBytes(conn, 4);
    const publish = (id: number) => [0x32, 5, 0, 1, 0x74, 0, id];
    /** How many of three QoS 1 PUBLISHes are acknowledged (a PINGREQ after them ends the count). */
    const acknowledged = async () => {
      await conn.write(new Uint8Array([...publish(1), ...publish(2), ...publish(3), 0xc0, 0]));
      let pubacks = 0;
      for (
        let [type] = await readBytes(conn, 2);
        type !== 0xd0;
        [type] = await readBytes(conn, 2)
      ) {
        assert.equal(type, 0x40);
        await readBytes(conn, 2);
        pubacks++;
      }
      return pubacks;
    };
    proxy.update({ ...spec, clientPublishLimit: { requestRate: 1, bytesRate: 0, timePeriod: 60 } });
    assert.equal(await acknowledged(), 1, "one PUBLISH a minute");
    proxy.update(spec);
    assert.equal(await acknowledged(), 3, "no limit");
    // Bytes are counted as Easegress counts them: the remaining length plus 8, 13 here (the
    // payload is empty), so 26 a minute lets two through.
    proxy.update({
      ...spec,
      clientPublishLimit: { requestRate: 0, bytesRate: 26, timePeriod: 60 },
    });
    assert.equal(await acknowledged(), 2, "26 bytes a minute");
  } finally {
    conn.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: packet identifier 0, or a QoS 0 PUBLISH flagged DUP, closes the client", async () => {
  const { proxy, port, logs } = await startProxy();
  try {
    assert.deepEqual(await afterConnect(port, [0x32, 5, 0, 1, 0x74, 0, 0, 0xc0, 0]), [], "PUBLISH");
    assert.deepEqual(await afterConnect(port, [0x38, 3, 0, 1, 0x74, 0xc0, 0]), [], "QoS 0 DUP");
    assert.deepEqual(await afterConnect(port, [0x82, 6, 0, 0, 0, 1, 0x74, 0, 0xc0, 0]), []);
    assert.deepEqual(await afterConnect(port, [0xa2, 5, 0, 0, 0, 1, 0x74, 0xc0, 0]), []);
    assert.deepEqual(await afterConnect(port, [0x62, 2, 0, 0, 0xc0, 0]), [], "PUBREL");
    // The same with identifier 1 is answered.
    assert.deepEqual(
      await afterConnect(port, [0x32, 5, 0, 1, 0x74, 0, 1, 0xc0, 0]),
      [0x40, 2, 0, 1, 0xd0, 0, STILL_OPEN],
    );
    assert.match(logs.join("\n"), /subscribe with packet identifier 0, closing/);
  } finally {
    await proxy.close();
  }
});

Deno.test("MQTTProxy: the keep-alive does not count the time a client's packets wait for a slow pipeline", async () => {
  const { proxy, port } = await startProxy(
    { rules: [{ when: { packetType: "Publish" }, pipeline: "slow" }] },
    { slow: { handle: () => new Promise((r) => setTimeout(() => r(""), 2_500)) } },
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const connect = connectPacket("c1");
    connect[11] = 1; // keep-alive 1 s: closed after 1.5 s of silence
    await conn.write(connect);
    assert.deepEqual(await readBytes(conn, 4), [0x20, 2, 0, 0]);
    await conn.write(new Uint8Array([0x32, 5, 0, 1, 0x74, 0, 1])); // QoS 1, a 2.5 s pipeline
    await new Promise((r) => setTimeout(r, 1_000));
    await conn.write(new Uint8Array([0xc0, 0])); // PINGREQ, read once the pipeline is done
    assert.deepEqual(await readBytes(conn, 6), [0x40, 2, 0, 1, 0xd0, 0]);
    // Silent from now on: closed after 1.5 s.
    const silent = Date.now();
    assert.equal(await conn.read(new Uint8Array(4)), null);
    const waited = Date.now() - silent;
    assert.ok(waited >= 1_300 && waited < 5_000, `closed after ${waited} ms`);
  } finally {
    conn.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: at maxAllowedConnection a client may still take over its own connection", async () => {
  const { proxy, port } = await startProxy({ maxAllowedConnection: 1 });
  const first = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await first.write(connectPacket("c1"));
    assert.deepEqual(await readBytes(first, 4), [0x20, 2, 0, 0]);
    assert.equal(await connack(port, connectPacket("c2")), 3, "another client: full");
    assert.equal(await connack(port, connectPacket("c1")), 0, "the same client again");
    assert.equal(await first.read(new Uint8Array(4)), null, "the old connection is closed");
  } finally {
    first.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a CONNECT whose will asks for QoS 3 closes the client unanswered", async () => {
  const { proxy, port, logs } = await startProxy();
  try {
    const connect = (willQos: number) => {
      const packet = new Uint8Array(
        mqtt.generate({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clientId: `w${willQos}`,
          clean: true,
          keepalive: 60,
          will: { topic: "gone", payload: Buffer.from("x"), qos: 2, retain: false },
        }) as unknown as Uint8Array,
      );
      // The connect flags follow the fixed header (2 bytes), "MQTT" (6) and the level (1):
      // mqtt-packet writes no will QoS 3, which MQTT-3.1.2-14 forbids.
      packet[9] = (packet[9] & ~0x18) | (willQos << 3);
      return packet;
    };
    for (const [willQos, answer] of [[2, [0x20, 2, 0, 0]], [3, []]] as const) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(connect(willQos));
      const got: number[] = [];
      const buf = new Uint8Array(16);
      const deadline = setTimeout(() => conn.close(), 1_000);
      try {
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
          got.push(...buf.subarray(0, n));
        }
      } catch { /* still open at the deadline */ }
      clearTimeout(deadline);
      try {
        conn.close();
      } catch { /* closed at the deadline */ }
      assert.deepEqual(got, answer, `will QoS ${willQos}`);
    }
    assert.match(logs.join("\n"), /will QoS 3, closing/);
  } finally {
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a pipeline whose filter fails refuses the CONNECT and drops the PUBLISH", async () => {
  const registry = builtinFilters();
  const pipeline = (name: string, filters: Record<string, unknown>[]) => {
    const r = SpecReader.root({ filters });
    const spec = readPipelineSpec(r, name, registry);
    r.finish();
    r.throwIfProblems();
    return new Pipeline(spec, registry, () => silentLogger);
  };
  // A Validator has no HTTP request to read in an MQTT pipeline: it throws, and the
  // MQTTClientAuth after it never runs.
  const validator = { name: "v", kind: "Validator", headers: { "X-Key": { values: ["ok"] } } };
  const auth = {
    name: "auth",
    kind: "MQTTClientAuth",
    auth: [{ username: "dev", saltedSha256Pass: "0".repeat(64) }],
  };
  const { proxy, port } = await startProxy(
    { rules: [{ when: { packetType: "Connect" }, pipeline: "connect" }] },
    { connect: pipeline("connect", [validator, auth]) },
  );
  const published = await startProxy(
    { rules: [{ when: { packetType: "Publish" }, pipeline: "publish" }] },
    { publish: pipeline("publish", [validator]) },
  );
  try {
    assert.equal(await connack(port, connectPacket("c1")), 5, "a wrong password is not let in");
    // QoS 1, then PINGREQ: the PUBLISH gets no PUBACK, the PINGREQ its PINGRESP.
    assert.deepEqual(
      await afterConnect(published.port, [0x32, 6, 0, 1, 0x61, 0, 1, 0x78, 0xc0, 0]),
      [0xd0, 0, STILL_OPEN],
    );
  } finally {
    await proxy.close();
    await published.proxy.close();
  }
});

Deno.test("MQTTProxy: a CONNECT with a password and no user name gets CONNACK 4 (MQTT-3.1.2-22)", async () => {
  const { proxy, port } = await startProxy();
  try {
    // Flags 0x42: password and CleanSession, no user name; client id "c1", password "pw".
    const packet = [0x10, 20, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x42, 0, 60, 0, 2, 0x63, 0x31];
    packet.push(0, 2, 0x70, 0x77);
    packet[1] = packet.length - 2;
    assert.equal(await connack(port, new Uint8Array(packet)), 4);
    assert.equal(await connack(port, connectPacket("c2")), 0, "with both it is let in");
  } finally {
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a protocol name and level that do not go together get CONNACK 1", async () => {
  const { proxy, port } = await startProxy();
  try {
    const connect = (name: string, level: number, clientId: string) => {
      const id = [...new TextEncoder().encode(clientId)];
      const body = [0, name.length, ...new TextEncoder().encode(name), level, 0x02, 0, 60];
      body.push(0, id.length, ...id);
      return new Uint8Array([0x10, body.length, ...body]);
    };
    assert.equal(await connack(port, connect("MQTT", 3, "a")), 1, "MQTT is level 4");
    assert.equal(await connack(port, connect("MQIsdp", 4, "b")), 1, "MQIsdp is level 3");
    assert.equal(await connack(port, connect("MQTT", 4, "c")), 0);
    assert.equal(await connack(port, connect("MQIsdp", 3, "d")), 0);
  } finally {
    await proxy.close();
  }
});

Deno.test("MQTTProxy: a limit's timePeriod 0 is Easegress's default, 1 s; a negative one is refused", () => {
  const read = (timePeriod: number) =>
    validateObject({
      kind: "MQTTProxy",
      name: "mq",
      port: 1883,
      connectionLimit: { requestRate: 10, timePeriod },
      clientPublishLimit: { bytesRate: 100, timePeriod },
    }, builtinFilters()) as unknown as MQTTProxySpec;
  const spec = read(0);
  assert.equal(spec.connectionLimit?.timePeriod, 1);
  assert.equal(spec.clientPublishLimit?.timePeriod, 1);
  assert.throws(() => read(-1), /connectionLimit\.timePeriod: must be at least 0, got -1/);
});

/** Whether the proxy closes a connection whose first bytes are `head` within 2 s, sending nothing. */
async function closedAfter(port: number, head: number[]): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const deadline = setTimeout(() => conn.close(), 2_000);
  try {
    await conn.write(new Uint8Array(head));
    return await conn.read(new Uint8Array(16)) === null;
  } catch {
    return false; // still open at the deadline
  } finally {
    clearTimeout(deadline);
    try {
      conn.close();
    } catch { /* closed at the deadline */ }
  }
}

Deno.test("MQTTProxy: a first packet that is no CONNECT, or longer than any, closes the client at its header", async () => {
  const { proxy, port, logs } = await startProxy();
  try {
    // A PUBLISH announcing 256 MB: the proxy took it all in before seeing it was no CONNECT.
    assert.ok(await closedAfter(port, [0x30, 0xff, 0xff, 0xff, 0x7f]), "PUBLISH first");
    assert.ok(await closedAfter(port, [0x10, 0xff, 0xff, 0xff, 0x7f]), "CONNECT of 256 MB");
    assert.match(logs.join("\n"), /packet type 3 before CONNECT, closing/);
    assert.match(logs.join("\n"), /CONNECT of \d+ bytes or more, closing/);
    // A CONNECT coming a byte at a time is still let in.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      for (const byte of connectPacket("c1")) {
        await conn.write(new Uint8Array([byte]));
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.deepEqual(await readBytes(conn, 4), [0x20, 2, 0, 0]);
    } finally {
      conn.close();
    }
  } finally {
    await proxy.close();
  }
});

Deno.test("firstPacketProblem: a CONNECT up to the longest one passes, another type or a longer one not", () => {
  const length = (n: number) => {
    const bytes = [];
    do {
      bytes.push((n % 128) | (n >= 128 ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return bytes;
  };
  const check = (head: number[]) => firstPacketProblem(new Uint8Array(head));
  assert.equal(check([]), undefined);
  assert.equal(check([0x10]), undefined);
  assert.equal(check([0x10, ...length(MAX_CONNECT_LENGTH)]), undefined);
  assert.equal(check([0x10, 0x80]), undefined, "too few bytes to tell");
  assert.match(check([0x10, ...length(MAX_CONNECT_LENGTH + 1)])!, /^CONNECT of/);
  assert.match(check([0x82, 5])!, /^packet type 8 before CONNECT/);
});

Deno.test("MQTTProxy over TLS with several certificates answers each client with the one for its server name", async () => {
  const other = await makeSelfSignedCert({ names: ["other.test"] });
  const local = await makeSelfSignedCert({ names: ["localhost"] });
  const { proxy, port } = await startProxy({
    useTLS: true,
    certificate: [
      { name: "other", cert: other.cert, key: other.key },
      { name: "local", cert: local.cert, key: local.key },
    ],
  });
  try {
    // Only the second certificate is for localhost: the first one, always served, failed here.
    const client = await Deno.connectTls({ hostname: "localhost", port, caCerts: [local.cert] });
    try {
      await client.write(connectPacket("c1"));
      assert.deepEqual(await readBytes(client, 4), [0x20, 2, 0, 0]);
    } finally {
      client.close();
    }
  } finally {
    await proxy.close();
    await Deno.remove(other.dir, { recursive: true });
    await Deno.remove(local.dir, { recursive: true });
  }
});

Deno.test("MQTTProxy: of persistent clients connecting at once with one id, only the last stays", async () => {
  const { proxy, port } = await startProxy();
  const conns = await Promise.all(
    Array.from({ length: 20 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  try {
    // Each is taken in after the store was read for its session: all were left open, but one
    // unlisted, unlimited, their wills and Disconnect pipelines never run.
    await Promise.all(conns.map((conn) => conn.write(connectPacket("same", false))));
    const open = await Promise.all(conns.map(async (conn) => {
      const buf = new Uint8Array(16);
      const deadline = setTimeout(() => conn.close(), 1_000);
      try {
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) { /* CONNACK */ }
        return false;
      } catch {
        return true; // still open at the deadline
      } finally {
        clearTimeout(deadline);
      }
    }));
    assert.equal(open.filter((o) => o).length, 1);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await proxy.close();
  }
});

Deno.test("MQTTProxy: clients connecting at once get no more places than maxAllowedConnection", async () => {
  const { proxy, port } = await startProxy({ maxAllowedConnection: 3 });
  const conns = await Promise.all(
    Array.from({ length: 20 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  try {
    // Each was checked before its Connect ran, none yet taken in: all 20 were let in.
    await Promise.all(conns.map((conn, i) => conn.write(connectPacket(`c${i}`))));
    const codes = await Promise.all(conns.map(async (conn) => (await readBytes(conn, 4))[3]));
    assert.equal(codes.filter((code) => code === 0).length, 3);
    assert.equal(codes.filter((code) => code === 3).length, 17);
    assert.equal(proxy.status().clients, 3);
  } finally {
    for (const conn of conns) conn.close();
    await proxy.close();
  }
});

Deno.test("MQTTProxy: an update switching TLS (or moving the port) closes the clients; a limit's leaves them", async () => {
  const { proxy, port } = await startProxy();
  const open = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(connectPacket("c1"));
    await readBytes(conn, 4);
    return conn;
  };
  /** Whether the proxy still answers `conn`'s PINGREQ. */
  const answers = async (conn: Deno.Conn) => {
    try {
      await conn.write(new Uint8Array([0xc0, 0]));
      return (await readBytes(conn, 2))[0] === 0xd0;
    } catch {
      return false;
    } finally {
      conn.close();
    }
  };
  const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  try {
    let conn = await open();
    proxy.update({ ...plainSpec(port), maxAllowedConnection: 10 });
    assert.ok(await answers(conn), "a limit changed");
    conn = await open();
    // Secured: a client left in clear on the plain connection was kept.
    proxy.update({
      ...plainSpec(port),
      useTLS: true,
      certificate: [{ name: "c", cert: tls.cert, key: tls.key }],
    });
    assert.ok(!(await answers(conn)), "switched to TLS");
  } finally {
    await proxy.close();
    await Deno.remove(tls.dir, { recursive: true });
  }
});
