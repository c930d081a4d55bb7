/**
 * MQTTProxy through the real binary with Eclipse Mosquitto's clients
 * (`mosquitto_pub`, `mosquitto_sub`): MQTTClientAuth on Connect,
 * ConnectControl and TopicMapper on Publish, subscribers getting what the
 * admin API publishes (and, in brokerMode, what clients publish), wildcard
 * subscriptions, sessions queried and deleted, a session kept for a client
 * that comes back, and bad specs refused.
 */

import assert from "node:assert/strict";
import { anyAddress } from "../../server/any_address.ts";
import {
  assertRefused,
  eventually,
  freePort,
  type NodeProcess,
  startNodeProcess,
} from "./helpers.ts";
import { TestEtcdCluster } from "./cluster/etcd_fixture.ts";
import { makeCertificates } from "./tls_certificates.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A mosquitto_sub that prints "topic payload" lines until `count` messages came or it is stopped. */
function subscribe(
  port: number,
  id: string,
  topic: string,
  extra: string[] = [],
  host = "127.0.0.1",
) {
  const child = new Deno.Command("mosquitto_sub", {
    args: [
      "-h",
      host,
      "-p",
      String(port),
      "-u",
      "dev",
      "-P",
      "secret",
      "-i",
      id,
      "-t",
      topic,
      "-q",
      "1",
      "-v",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let lines = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) lines += dec.decode(chunk);
  })();
  child.stderr.cancel();
  return {
    lines: () => lines.split("\n").filter(Boolean),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await reading;
    },
  };
}

/** Creates the MQTTProxy "mq" on `port` (no rules). */
async function createProxy(node: NodeProcess, port: number): Promise<void> {
  const created = await node.ctl(
    ["object", "create"],
    `kind: MQTTProxy\nname: mq\nport: ${port}\n`,
  );
  assert.equal(created.code, 0, created.stderr);
}

/** Resolves once the proxy on `port` takes connections. */
function proxyListening(port: number): Promise<void> {
  return eventually("the proxy listening", async () => {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  });
}

async function httpPublish(node: NodeProcess, name: string, body: unknown): Promise<number> {
  const r = await fetch(`http://${node.apiAddr}/apis/v2/mqttproxy/${name}/topics/publish`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  await r.body?.cancel();
  return r.status;
}

async function sessions(
  node: NodeProcess,
  query = "",
): Promise<{ sessionID: string; topic: string }[]> {
  const r = await fetch(`http://${node.apiAddr}/apis/v2/mqttproxy/mq/session/query${query}`, {
    headers: { accept: "application/json" },
  });
  return (await r.json()).sessions;
}

Deno.test("MQTTProxy: auth, publish pipelines, HTTP publish to subscribers, sessions", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const subs: { stop(): Promise<void> }[] = [];
  try {
    const objects = `kind: Pipeline
name: connect
filters:
- name: auth
  kind: MQTTClientAuth
  salt: pepper
  auth:
  - username: dev
    saltedSha256Pass: ${await sha256Hex("secretpepper")}
---
kind: Pipeline
name: publish
flow:
- filter: ban
- filter: mapper
  jumpIf: {MQTTTopicMapFailed: END}
filters:
- name: ban
  kind: ConnectControl
  bannedClients: [evil]
  bannedTopicRe: ^forbidden/
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
---
kind: MQTTProxy
name: mq
port: ${port}
brokerMode: true
rules:
- when: {packetType: Connect}
  pipeline: connect
- when: {packetType: Publish}
  pipeline: publish
`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const pub = (args: string[]) =>
      run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), ...args]);
    await eventually(
      "the proxy accepting",
      async () =>
        (await pub(["-u", "dev", "-P", "secret", "-i", "probe", "-t", "x", "-m", "x"])).code === 0,
    );

    // Connect: a wrong password is refused with CONNACK 5 (not authorised).
    const refused = await pub(["-u", "dev", "-P", "wrong", "-i", "p2", "-t", "a", "-m", "x"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not authori[sz]ed/i);

    const all = subscribe(port, "sub-all", "sensors/#");
    const one = subscribe(port, "sub-one", "sensors/+/temp");
    subs.push(all, one);
    await eventually("both subscribed", async () => (await sessions(node)).length === 2);
    assert.deepEqual(await sessions(node, "?q=temp"), [{
      sessionID: "sub-one",
      topic: "sensors/+/temp",
    }]);

    // The admin API publishes to every matching subscriber.
    assert.equal(
      await httpPublish(node, "mq", { topic: "sensors/a/temp", qos: 1, payload: "21.5" }),
      200,
    );
    assert.equal(
      await httpPublish(node, "mq", {
        topic: "sensors/b",
        qos: 0,
        payload: btoa("bin"),
        base64: true,
      }),
      200,
    );
    // brokerMode: a client's publish that the pipeline lets through reaches subscribers too.
    const sent = await pub([
      "-u",
      "dev",
      "-P",
      "secret",
      "-i",
      "p3",
      "-t",
      "sensors/c/temp",
      "-m",
      "hot",
      "-q",
      "1",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    // ConnectControl: a banned topic disconnects the client, and nobody gets the message.
    await pub(["-u", "dev", "-P", "secret", "-i", "p4", "-t", "forbidden/x", "-m", "no"]);
    await eventually(
      "the messages delivered",
      () => Promise.resolve(all.lines().length === 3 && one.lines().length === 2),
    );
    assert.deepEqual(all.lines(), ["sensors/a/temp 21.5", "sensors/b bin", "sensors/c/temp hot"]);
    assert.deepEqual(one.lines(), ["sensors/a/temp 21.5", "sensors/c/temp hot"]);

    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "publish"])).stdout,
    );
    const ban =
      Object.values(status as Record<string, { filters: Record<string, unknown> }>)[0].filters.ban;
    // Easegress's status: the spec's regexps and list lengths (the same in both workers).
    assert.deepEqual(ban, { bannedClientNum: 1, bannedTopicRe: "^forbidden/" });

    assert.equal(await httpPublish(node, "mq", { topic: "a/+/b", payload: "x" }), 400);
    assert.equal(await httpPublish(node, "mq", { topic: "a", qos: 3, payload: "x" }), 400);
    assert.equal(await httpPublish(node, "nosuch", { topic: "a", payload: "x" }), 404);

    // Deleting a session disconnects its client.
    const deleted = await fetch(`http://${node.apiAddr}/apis/v2/mqttproxy/mq/sessions`, {
      method: "DELETE",
      body: JSON.stringify({ sessions: [{ sessionID: "sub-one" }] }),
    });
    assert.equal(deleted.status, 200);
    await eventually(
      "sub-one gone",
      async () => (await sessions(node)).every((s) => s.sessionID !== "sub-one"),
    );
  } finally {
    for (const s of subs) await s.stop();
    await node.stop();
  }
});

Deno.test("MQTTProxy: a session kept with CleanSession 0 gets what was published while away", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    await createProxy(node, port);
    await proxyListening(port);
    // -c: CleanSession 0; -C 1: leave after the first message.
    const first = subscribe(port, "keeper", "news/#", ["-c", "-W", "5"]);
    await eventually("subscribed", async () => (await sessions(node)).length === 1);
    await first.stop();
    assert.equal(
      await httpPublish(node, "mq", { topic: "news/today", qos: 1, payload: "missed" }),
      200,
    );
    // Back over IPv6 where the host has it: the proxy listens on every address, as Easegress's :port.
    const host = anyAddress() === "::" ? "::1" : "127.0.0.1";
    const back = subscribe(port, "keeper", "news/#", ["-c", "-C", "1", "-W", "5"], host);
    await eventually("the missed message", () => Promise.resolve(back.lines().length === 1));
    assert.deepEqual(back.lines(), ["news/today missed"]);
    await back.stop();
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: bad specs are refused with the field named", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  try {
    const cases: [string, RegExp][] = [
      ["kind: MQTTProxy\nname: m\n", /port: is required/],
      [
        "kind: MQTTProxy\nname: m\nport: 1883\nuseTLS: true\n",
        /certificate: is required with useTLS/,
      ],
      [
        "kind: MQTTProxy\nname: m\nport: 1883\nrules:\n- {when: {packetType: Publish}, pipeline: a}\n- {when: {packetType: Publish}, pipeline: b}\n",
        /rules\[1\]\.when\.packetType: Publish has a rule already/,
      ],
      [
        "kind: MQTTProxy\nname: m\nport: 1883\nrules:\n- {when: {packetType: Ping}, pipeline: a}\n",
        /rules\[0\]\.when\.packetType: must be one of/,
      ],
      [
        "kind: Pipeline\nname: p\nfilters:\n- {name: a, kind: MQTTClientAuth, auth: [{username: u, saltedSha256Pass: xyz}]}\n",
        /saltedSha256Pass: must be a hex SHA-256/,
      ],
      [
        "kind: Pipeline\nname: p\nfilters:\n- {name: k, kind: KafkaMQTT, backend: [127.0.0.1:9092]}\n",
        /filters\[0\]\.topic: is required/,
      ],
      [
        "kind: IngressController\nname: i\n",
        /kind: IngressController is an Easegress object kind this node does not run: it needs Kubernetes/,
      ],
    ];
    await assertRefused(node, cases);
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: a connection that sends no CONNECT is closed after 10 s", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    await createProxy(node, port);
    let conn: Deno.Conn | undefined;
    await eventually("the proxy listening", async () => {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      return true;
    });
    const start = Date.now();
    const read = await conn!.read(new Uint8Array(16)).catch(() => null);
    assert.equal(read, null);
    const waited = Date.now() - start;
    assert.ok(waited >= 9_000 && waited < 15_000, `closed after ${waited} ms`);
    conn!.close();
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: a CONNECT of an unknown protocol level gets CONNACK 1; malformed packets a close", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  /** What the proxy answers to `bytes` before it closes the connection. */
  const answer = async (bytes: number[]): Promise<number[]> => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new Uint8Array(bytes));
    const got: number[] = [];
    const buf = new Uint8Array(64);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      got.push(...buf.subarray(0, n));
    }
    conn.close();
    return got;
  };
  const connect = (name: string, level: number) => [
    0x10,
    12,
    0,
    4,
    ...new TextEncoder().encode(name),
    level,
    0x02,
    0,
    60,
    0,
    0,
  ];
  try {
    await createProxy(node, port);
    await proxyListening(port);
    assert.deepEqual(await answer(connect("MQTT", 9)), [0x20, 2, 0, 1]);
    // MQTT 5 (its CONNECT has properties, here none) is not spoken here: CONNACK 1 too.
    const v5 = [0x10, 13, 0, 4, 77, 81, 84, 84, 5, 0x02, 0, 60, 0, 0, 0];
    assert.deepEqual((await answer(v5)).slice(0, 4), [0x20, 2, 0, 1]);
    // A wrong protocol name, a reserved packet type, a length past four bytes: closed unanswered.
    assert.deepEqual(await answer(connect("XQTT", 4)), []);
    assert.deepEqual(await answer([0x00, 0x00]), []);
    assert.deepEqual(await answer([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), []);
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: a persistent session's subscriptions outlive a restart; a clean start ends them", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  let restarted: NodeProcess | undefined;
  try {
    await createProxy(node, port);
    await proxyListening(port);
    const first = subscribe(port, "keeper", "news/#", ["-c", "-W", "5"]);
    await eventually("subscribed", async () => (await sessions(node)).length === 1);
    await first.stop();
    await node.stop();

    restarted = await startNodeProcess({ homeDir: node.homeDir, args: ["--workers", "1"] });
    await proxyListening(port);
    // Listed while its client is away: the store has it.
    assert.deepEqual(await sessions(restarted), [{ sessionID: "keeper", topic: "news/#" }]);
    assert.deepEqual(await sessions(restarted, "?q=sport"), []);
    // Back with CleanSession 0 and another subscription: news/# came back from the store.
    const back = subscribe(port, "keeper", "other/topic", ["-c", "-C", "1", "-W", "5"]);
    await eventually("both subscriptions", async () => (await sessions(restarted!)).length === 2);
    assert.deepEqual(await sessions(restarted, "?page=2&page_size=1"), [
      { sessionID: "keeper", topic: "other/topic" },
    ]);
    assert.equal(
      await httpPublish(restarted, "mq", { topic: "news/today", qos: 1, payload: "kept" }),
      200,
    );
    await eventually("the message", () => Promise.resolve(back.lines().length === 1));
    assert.deepEqual(back.lines(), ["news/today kept"]);
    await back.stop();

    // A clean start forgets the stored session, here and after the next restart.
    const clean = subscribe(port, "keeper", "clean/topic", ["-W", "5"]);
    await eventually(
      "the clean session",
      async () => (await sessions(restarted!)).map((s) => s.topic).join() === "clean/topic",
    );
    await clean.stop();
    await restarted.stop();
    restarted = await startNodeProcess({ homeDir: node.homeDir, args: ["--workers", "1"] });
    await proxyListening(port);
    const again = subscribe(port, "keeper", "other/topic", ["-c", "-W", "5"]);
    await eventually("subscribed again", async () => (await sessions(restarted!)).length === 1);
    assert.deepEqual((await sessions(restarted)).map((s) => s.topic), ["other/topic"]);
    await again.stop();
  } finally {
    await node.stop();
    await restarted?.stop();
  }
});

Deno.test("MQTTProxy: a failed status clears once its port is free, with two workers and after a re-create", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const held = freePort();
  const free = freePort();
  const proxy = (port: number) => `kind: MQTTProxy\nname: mqx\nport: ${port}\n`;
  const status = async (): Promise<{ state?: string; error?: string }> => {
    const shown = await node.ctl(["-o", "json", "object", "status", "get", "mqx"]);
    return Object.values(JSON.parse(shown.stdout) as Record<string, { state?: string }>)[0] ?? {};
  };
  const failed = () =>
    eventually("mqx failed", async () => {
      const s = await status();
      return s.state === "failed" && /already used by HTTPServer h/.test(s.error ?? "");
    });
  const serving = async () => {
    await eventually("mqx running", async () => (await status()).state === "running");
    assert.equal((await status()).error, "");
    // CONNACK 0 on the new port.
    const connect = [0x10, 13, 0, 4, 77, 81, 84, 84, 4, 0x02, 0, 60, 0, 1, 0x63];
    await eventually("CONNACK 0", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: free });
      try {
        await conn.write(new Uint8Array(connect));
        const buf = new Uint8Array(4);
        return (await conn.read(buf)) === 4 && buf.join() === "32,2,0,0";
      } finally {
        conn.close();
      }
    });
  };
  try {
    const created = await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: h\nport: ${held}\nrules: []\n`,
    );
    assert.equal(created.code, 0, created.stderr);
    await node.ctl(["object", "create"], proxy(held));
    await failed();
    assert.equal((await node.ctl(["object", "update"], proxy(free))).code, 0);
    await serving();
    // Failed again, deleted, and created again under the same name on the free port.
    await node.ctl(["object", "update"], proxy(held));
    await failed();
    assert.equal((await node.ctl(["object", "delete", "mqx"])).code, 0);
    assert.equal((await node.ctl(["object", "create"], proxy(free))).code, 0);
    await serving();
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: an empty client id with good credentials is refused by MQTTClientAuth (CONNACK 5)", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const open = freePort();
  /** The CONNACK code for a clean-session CONNECT as user dev, password secret. */
  const connack = async (to: number, clientId: string): Promise<number> => {
    const id = new TextEncoder().encode(clientId);
    const body = [
      ...[0, 4, 77, 81, 84, 84, 4, 0xc2, 0, 60],
      ...[0, id.length, ...id],
      ...[0, 3, ...new TextEncoder().encode("dev")],
      ...[0, 6, ...new TextEncoder().encode("secret")],
    ];
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: to });
    try {
      await conn.write(new Uint8Array([0x10, body.length, ...body]));
      const buf = new Uint8Array(4);
      assert.equal(await conn.read(buf), 4);
      assert.equal(buf[0], 0x20);
      return buf[3];
    } finally {
      conn.close();
    }
  };
  try {
    const objects = `kind: Pipeline
name: connect
filters:
- name: auth
  kind: MQTTClientAuth
  salt: pepper
  auth:
  - username: dev
    saltedSha256Pass: ${await sha256Hex("secretpepper")}
---
kind: MQTTProxy
name: mq
port: ${port}
rules:
- when: {packetType: Connect}
  pipeline: connect
---
kind: MQTTProxy
name: open
port: ${open}
`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    await proxyListening(port);
    await proxyListening(open);
    await eventually("auth in place", async () => (await connack(port, "c1")) === 0);
    assert.equal(await connack(port, ""), 5);
    // Without auth, the proxy assigns an id (MQTT 3.1.1 section 3.1.3.1).
    assert.equal(await connack(open, ""), 0);
  } finally {
    await node.stop();
  }
});

Deno.test("MQTTProxy: a publish to any member of a cluster with a secured admin API reaches every member's subscribers", async () => {
  const etcd = await TestEtcdCluster.start(1);
  const dir = await Deno.makeTempDir({ prefix: "eg-mqtt-tls-" });
  const nodes: NodeProcess[] = [];
  let sub: { lines(): string[]; stop(): Promise<void> } | undefined;
  let client: Deno.HttpClient | undefined;
  try {
    await makeCertificates(dir, "ca");
    const https = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${dir}/ca.pem`)],
      cert: await Deno.readTextFile(`${dir}/ca-client.pem`),
      key: await Deno.readTextFile(`${dir}/ca-client.key`),
    });
    client = https;
    const headers = { authorization: `Basic ${btoa("admin:s3cret")}` };
    const call = async (apiAddr: string, method: string, path: string, body?: string) => {
      const r = await fetch(`https://${apiAddr}/apis/v2${path}`, {
        method,
        body,
        client: https,
        headers,
      });
      await r.body?.cancel();
      return r.status;
    };
    const sessionCount = async (apiAddr: string) => {
      const url = `https://${apiAddr}/apis/v2/mqttproxy/mq/session/query`;
      const r = await fetch(url, { client: https, headers });
      return r.ok ? (await r.json()).sessions.length : -1;
    };
    const args = (name: string) => [
      ...["--name", name, "--cluster-name", "mq-tls", "--etcd-endpoints", etcd.endpoints[0]],
      ...["--workers", "1", "--tls", "--cert-file", `${dir}/ca-server.pem`],
      ...["--key-file", `${dir}/ca-server.key`, "--client-ca-file", `${dir}/ca.pem`],
      ...["--basic-auth", "admin=s3cret"],
    ];
    for (const name of ["eg-a", "eg-b"]) {
      nodes.push(
        await startNodeProcess({
          args: args(name),
          isReady: async (apiAddr) => await call(apiAddr, "GET", "/healthz") === 200,
        }),
      );
    }
    const [a, b] = nodes;
    const port = freePort();
    assert.equal(
      await call(a.apiAddr, "POST", "/objects", `kind: MQTTProxy\nname: mq\nport: ${port}\n`),
      201,
    );
    await proxyListening(port);
    // Both members serve the port: the subscriber is on one of them, and each publish
    // reaches it only if passed on when it is the other's.
    sub = subscribe(port, "c1", "t");
    await eventually(
      "c1 subscribed",
      async () => (await sessionCount(a.apiAddr)) + (await sessionCount(b.apiAddr)) === 1,
    );
    for (const [node, payload] of [[a, "via-a"], [b, "via-b"]] as const) {
      const body = JSON.stringify({ topic: "t", qos: 1, payload });
      assert.equal(await call(node.apiAddr, "POST", "/mqttproxy/mq/topics/publish", body), 200);
    }
    await eventually(
      "c1 got what both members published",
      () => Promise.resolve(sub!.lines().sort().join() === "t via-a,t via-b"),
    );
  } finally {
    await sub?.stop();
    for (const node of nodes) await node.stop();
    client?.close();
    await etcd.close();
    await Deno.remove(dir, { recursive: true });
  }
});
