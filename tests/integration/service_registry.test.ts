/**
 * Service registry objects through the real binary: Proxy pools with
 * `serviceRegistry` and `serviceName` send to the instances a registry
 * lists, follow them as they come and go, and fall back to their static
 * `servers` when there are none. ZooKeeper (Debian's `zookeeperd`, started
 * here) and etcd are real; Consul, Eureka and Nacos are stand-ins that
 * answer their HTTP APIs as documented.
 */

import assert from "node:assert/strict";
import {
  assertRefused,
  eventually,
  freePort,
  type NodeProcess,
  startNodeProcess,
} from "./helpers.ts";
import { TestEtcdCluster } from "./cluster/etcd_fixture.ts";
import { ZooKeeperClient } from "../../server/registry/zookeeper_client.ts";
import { registrySource } from "../../server/registry/sources.ts";

/** Backends answering with their own name. */
function backends(names: string[]): { ports: Record<string, number>; close(): Promise<void> } {
  const servers = names.map((name) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(name))
  );
  const ports: Record<string, number> = {};
  names.forEach((name, i) => ports[name] = servers[i].addr.port);
  return { ports, close: () => Promise.all(servers.map((s) => s.shutdown())).then(() => {}) };
}

/** A Pipeline whose pool follows `serviceName` in `registry`, with `static` as its fallback server. */
function proxyObjects(
  registry: string,
  serviceName: string,
  staticPort: number,
  port: number,
  extra = "",
): string {
  return `kind: Pipeline
name: p-${registry}
filters:
- name: proxy
  kind: Proxy
  pools:
  - serviceRegistry: ${registry}
    serviceName: ${serviceName}
    servers:
    - url: http://127.0.0.1:${staticPort}
${extra}---
kind: HTTPServer
name: s-${registry}
port: ${port}
rules:
- paths:
  - pathPrefix: /
    backend: p-${registry}
`;
}

/** Waits until every one of `count` GETs to `port` is answered by a backend in `expected`, and each of them answers. */
async function servedBy(port: number, expected: string[], count = 8): Promise<void> {
  await eventually(`port ${port} served by ${expected.join(", ")}`, async () => {
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      seen.add(await r.text());
    }
    return seen.size === expected.length && expected.every((e) => seen.has(e));
  }, 10_000);
}

async function create(node: NodeProcess, yaml: string): Promise<void> {
  const created = await node.ctl(["object", "create"], yaml);
  assert.equal(created.code, 0, created.stderr);
}

/** A ZooKeeper server of Debian's zookeeperd on a loopback port, data in `dir`. */
async function startZooKeeper(dir: string): Promise<{ address: string; stop(): Promise<void> }> {
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/zoo.cfg`,
    `tickTime=2000\ndataDir=${dir}/data\nclientPort=${port}\nclientPortAddress=127.0.0.1\n` +
      "admin.enableServer=false\n",
  );
  const server = new Deno.Command("java", {
    args: [
      "-cp",
      "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
      "org.apache.zookeeper.server.ZooKeeperServerMain",
      `${dir}/zoo.cfg`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const address = `127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      (await ZooKeeperClient.connect([address], 1000)).close();
      break;
    } catch (e) {
      if (i > 150) throw new Error(`ZooKeeper did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    address,
    async stop() {
      try {
        server.kill("SIGKILL");
      } catch { /* stopped already */ }
      await server.status;
    },
  };
}

const instance = (serviceName: string, id: string, port: number, extra: object = {}) =>
  new TextEncoder().encode(
    JSON.stringify({ serviceName, instanceID: id, address: "127.0.0.1", port, ...extra }),
  );

Deno.test("ZookeeperServiceRegistry: a pool follows the instances under the prefix, static servers when none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-zk-" });
  const zk = await startZooKeeper(dir);
  const apps = backends(["a", "b", "static"]);
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const writer = await ZooKeeperClient.connect([zk.address], 5000);
  try {
    await writer.create("/registry", new Uint8Array());
    await writer.create("/registry/a1", instance("orders", "a1", apps.ports.a));
    await writer.create("/registry/x1", instance("other", "x1", apps.ports.b));
    await writer.create("/registry/junk", new TextEncoder().encode("not an instance"));
    await create(
      node,
      `kind: ZookeeperServiceRegistry\nname: zk\nzkservices: [${zk.address}]\n` +
        // A trailing slash, as etcd prefixes are written, names the same node.
        // connTimeout, as Easegress's reference writes it (its YAML key is conntimeout).
        `prefix: /registry/\nconnTimeout: 3s\nsyncInterval: 300ms\n---\n` +
        proxyObjects("zk", "orders", apps.ports.static, port),
    );
    await servedBy(port, ["a"]);
    await writer.create("/registry/b1", instance("orders", "b1", apps.ports.b));
    await servedBy(port, ["a", "b"]);
    const status = await node.ctl(["object", "status", "get", "zk", "-o", "json"]);
    const own = Object.values(JSON.parse(status.stdout) as Record<string, {
      services: Record<string, number>;
      serviceInstancesNum: Record<string, number>;
      health: string;
    }>)[0];
    assert.deepEqual(own.services, { orders: 2, other: 1 });
    // Easegress's status fields too.
    assert.deepEqual(own.serviceInstancesNum, { orders: 2, other: 1 });
    assert.equal(own.health, "ready");
    await writer.delete("/registry/a1");
    await writer.delete("/registry/b1");
    await servedBy(port, ["static"]);

    // The prefix removed with its last instances lists none: that is no failure to read.
    await writer.create("/registry/a2", instance("orders", "a2", apps.ports.a));
    await servedBy(port, ["a"]);
    for (const node of ["a2", "x1", "junk"]) await writer.delete(`/registry/${node}`);
    await writer.delete("/registry");
    await servedBy(port, ["static"]);
    const emptied = await node.ctl(["object", "status", "get", "zk", "-o", "json"]);
    assert.deepEqual(
      Object.values(JSON.parse(emptied.stdout) as Record<string, { health: string }>)
        .map((s) => s.health),
      ["ready"],
    );

    // The registry going away keeps the last instances; deleting the object drops them.
    await writer.create("/registry", new Uint8Array());
    await writer.create("/registry/a2", instance("orders", "a2", apps.ports.a));
    await servedBy(port, ["a"]);
    await zk.stop();
    await eventually("the registry's error in its status", async () => {
      const s = await node.ctl(["object", "status", "get", "zk", "-o", "json"]);
      return /cannot open a ZooKeeper session/.test(s.stdout);
    }, 10_000);
    await servedBy(port, ["a"]);
    assert.equal((await node.ctl(["object", "delete", "zk"])).code, 0);
    await servedBy(port, ["static"]);
  } finally {
    writer.close();
    await node.stop();
    await apps.close();
    await zk.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EtcdServiceRegistry: instances as ServiceInstanceSpec documents under the prefix", async () => {
  const etcd = await TestEtcdCluster.start(1);
  const apps = backends(["a", "b", "static"]);
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    await client.put("/svc/orders/a1").value(
      `serviceName: orders\ninstanceID: a1\naddress: 127.0.0.1\nport: ${apps.ports.a}\ntags: [v1]\n`,
    );
    await client.put("/svc/orders/b1").value(
      JSON.stringify({
        ServiceName: "orders",
        InstanceID: "b1",
        Address: "127.0.0.1",
        Port: apps.ports.b,
        Tags: ["v2"],
      }),
    );
    await create(
      node,
      // host:port, as Easegress's examples write etcd endpoints.
      `kind: EtcdServiceRegistry\nname: etcd\nendpoints: [${new URL(etcd.endpoints[0]).host}]\n` +
        `prefix: /svc/\n` +
        `cacheTimeout: 300ms\n---\n` +
        proxyObjects("etcd", "orders", apps.ports.static, port, "    serverTags: [v2]\n"),
    );
    // serverTags choose among the instances.
    await servedBy(port, ["b"]);
    await client.delete().key("/svc/orders/b1");
    // No instance with the tag left: the static server.
    await servedBy(port, ["static"]);

    // etcd gone: the last instances stay, and every error names the endpoint.
    await client.put("/svc/orders/b2").value(
      JSON.stringify({
        serviceName: "orders",
        address: "127.0.0.1",
        port: apps.ports.b,
        tags: ["v2"],
      }),
    );
    await servedBy(port, ["b"]);
    await etcd.killMember(etcd.members[0].name);
    const host = new URL(etcd.endpoints[0]).host;
    const errors = new Set<string>();
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      const s = await node.ctl(["object", "status", "get", "etcd", "-o", "json"]);
      const own = Object.values(JSON.parse(s.stdout) as Record<string, { error: string }>)[0];
      if (own.error) errors.add(own.error);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(errors.size > 0, "no error in the status");
    for (const error of errors) assert.ok(error.startsWith(`etcd ${host}: `), error);
    await servedBy(port, ["b"]);
  } finally {
    client.close();
    await node.stop();
    await apps.close();
    await etcd.close();
  }
});

Deno.test("EtcdServiceRegistry: an endpoint that is down does not fail the reads the others can answer", async () => {
  const etcd = await TestEtcdCluster.start(1, 26621);
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: etcd.endpoints });
  // Nothing listens on 26623: an etcd member that is down.
  const source = registrySource({
    name: "r",
    kind: "EtcdServiceRegistry",
    endpoints: ["127.0.0.1:26623", etcd.endpoints[0]],
    prefix: "/svc/",
    cacheTimeout: "1s",
  });
  try {
    await client.put("/svc/orders/a1").value(
      JSON.stringify({ serviceName: "orders", address: "127.0.0.1", port: 26624 }),
    );
    // Each read picks an endpoint; a second apart, past the dead one's breaker, as syncs are.
    for (let i = 0; i < 8; i++) {
      assert.deepEqual((await source.list()).map((instance) => instance.port), [26624]);
      await new Promise((r) => setTimeout(r, 1_100));
    }
  } finally {
    await source.close();
    client.close();
    await etcd.close();
  }
});

Deno.test("EtcdServiceRegistry: an etcd that stops answering shows in the status, its instances stay", async () => {
  const etcd = await TestEtcdCluster.start(1);
  const apps = backends(["a", "static"]);
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: etcd.endpoints });
  const pid = etcd.process(etcd.members[0].name).pid;
  try {
    await client.put("/svc/orders/a1").value(
      JSON.stringify({ serviceName: "orders", address: "127.0.0.1", port: apps.ports.a }),
    );
    await create(
      node,
      `kind: EtcdServiceRegistry\nname: etcd\nendpoints: [${etcd.endpoints[0]}]\nprefix: /svc/\n` +
        `cacheTimeout: 300ms\n---\n` + proxyObjects("etcd", "orders", apps.ports.static, port),
    );
    await servedBy(port, ["a"]);
    Deno.kill(pid, "SIGSTOP"); // accepts connections, answers nothing
    await eventually("the hung etcd in the registry's status", async () => {
      const s = await node.ctl(["object", "status", "get", "etcd", "-o", "json"]);
      const own = Object.values(JSON.parse(s.stdout) as Record<string, { error: string }>)[0];
      return own.error.startsWith("etcd ");
    }, 20_000);
    await servedBy(port, ["a"]);
  } finally {
    try {
      Deno.kill(pid, "SIGCONT");
    } catch { /* gone */ }
    client.close();
    await node.stop();
    await apps.close();
    await etcd.close();
  }
});

Deno.test("Consul, Eureka and Nacos registries: their HTTP APIs read, healthy instances only", async () => {
  const apps = backends(["a", "b", "c", "static"]);
  let nacosLogins = 0;
  const consul = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (req.headers.get("x-consul-token") !== "secret") return new Response("no", { status: 403 });
    if (url.pathname === "/v1/catalog/services") {
      return Response.json({ consul: [], orders: ["v1"] });
    }
    if (url.pathname === "/v1/catalog/service/orders" && url.searchParams.get("dc") === "dc1") {
      return Response.json([
        {
          ServiceID: "o1",
          Address: "10.0.0.9",
          ServiceAddress: "127.0.0.1",
          ServicePort: apps.ports.a,
          ServiceTags: ["v1"],
        },
        {
          ServiceID: "o2",
          Address: "127.0.0.1",
          ServiceAddress: "",
          ServicePort: apps.ports.b,
          ServiceTags: ["v1"],
        },
      ]);
    }
    return new Response("not found", { status: 404 });
  });
  const eureka = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/eureka/apps") return new Response("", { status: 404 });
    return Response.json({
      applications: {
        application: {
          name: "ORDERS",
          instance: [
            {
              instanceId: "e1",
              app: "ORDERS",
              ipAddr: "127.0.0.1",
              status: "UP",
              port: { $: apps.ports.c, "@enabled": "true" },
              securePort: { $: 443, "@enabled": "false" },
            },
            {
              instanceId: "e2",
              app: "ORDERS",
              ipAddr: "127.0.0.1",
              status: "DOWN",
              port: { $: apps.ports.a, "@enabled": "true" },
            },
          ],
        },
      },
    });
  });
  const nacos = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/nacos/v1/auth/login") {
      const form = new URLSearchParams(await req.text());
      nacosLogins++;
      return form.get("password") === "pw"
        ? Response.json({ accessToken: "tok" })
        : new Response("bad", { status: 403 });
    }
    if (
      url.searchParams.get("accessToken") !== "tok" ||
      url.searchParams.get("namespaceId") !== "prod"
    ) {
      return new Response("forbidden", { status: 403 });
    }
    if (url.pathname === "/nacos/v1/ns/service/list") {
      return Response.json({ count: 1, doms: ["orders"] });
    }
    if (
      url.pathname === "/nacos/v1/ns/instance/list" &&
      url.searchParams.get("serviceName") === "orders"
    ) {
      return Response.json({
        hosts: [
          {
            instanceId: "n1",
            ip: "127.0.0.1",
            port: apps.ports.b,
            weight: 1,
            healthy: true,
            enabled: true,
          },
          {
            instanceId: "n2",
            ip: "127.0.0.1",
            port: apps.ports.c,
            weight: 1,
            healthy: true,
            enabled: false,
          },
          // Weight 0: taken out of traffic.
          {
            instanceId: "n3",
            ip: "127.0.0.1",
            port: apps.ports.a,
            weight: 0,
            healthy: true,
            enabled: true,
          },
        ],
      });
    }
    return new Response("not found", { status: 404 });
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const ports = { consul: freePort(), eureka: freePort(), nacos: freePort() };
  try {
    await create(
      node,
      `kind: ConsulServiceRegistry\nname: consul\naddress: 127.0.0.1:${consul.addr.port}\n` +
        `datacenter: dc1\ntoken: secret\nsyncInterval: 300ms\n---\n` +
        proxyObjects("consul", "orders", apps.ports.static, ports.consul) + "---\n" +
        `kind: EurekaServiceRegistry\nname: eureka\nendpoints: [http://127.0.0.1:${eureka.addr.port}/eureka]\n` +
        `syncInterval: 300ms\n---\n` +
        proxyObjects("eureka", "ORDERS", apps.ports.static, ports.eureka) + "---\n" +
        // contextPath without its leading slash, as Nacos's Go client takes it too.
        `kind: NacosServiceRegistry\nname: nacos\nservers:\n- ipAddr: 127.0.0.1\n  port: ${nacos.addr.port}\n` +
        `  contextPath: nacos\n` +
        `namespace: prod\nusername: gw\npassword: pw\nsyncInterval: 300ms\n---\n` +
        proxyObjects("nacos", "orders", apps.ports.static, ports.nacos),
    );
    await servedBy(ports.consul, ["a", "b"]);
    await servedBy(ports.eureka, ["c"]);
    await servedBy(ports.nacos, ["b"]);
    assert.ok(nacosLogins > 0);

    // A registry changed to an address that does not answer keeps the instances
    // in use, and its status shows them with the error.
    const nowhere = freePort();
    const moved = await node.ctl(
      ["object", "update"],
      `kind: ConsulServiceRegistry\nname: consul\naddress: 127.0.0.1:${nowhere}\n` +
        `token: secret\nsyncInterval: 300ms\n`,
    );
    assert.equal(moved.code, 0, moved.stderr);
    let status:
      | { services: Record<string, number>; instancesNum: Record<string, number>; error: string }
      | undefined;
    await eventually("the moved registry's error in its status", async () => {
      const s = await node.ctl(["object", "status", "get", "consul", "-o", "json"]);
      status = Object.values(JSON.parse(s.stdout) as Record<string, typeof status>)[0];
      return new RegExp(`127\\.0\\.0\\.1:${nowhere}`).test(status?.error ?? "");
    }, 10_000);
    assert.deepEqual(status?.services, { orders: 2 });
    // The URL it could not read, without an empty query.
    assert.match(
      status?.error ?? "",
      new RegExp(`^http://127\\.0\\.0\\.1:${nowhere}/v1/catalog/services: `),
    );
    assert.deepEqual(status?.instancesNum, { orders: 2 });
    await servedBy(ports.consul, ["a", "b"]);

    // Eureka peers that all fail: the status names each one's failure.
    const dead = [freePort(), freePort()];
    await create(
      node,
      `kind: EurekaServiceRegistry\nname: eureka2\nendpoints: [` +
        dead.map((p) => `http://127.0.0.1:${p}/eureka`).join(", ") + `]\nsyncInterval: 300ms\n`,
    );
    await eventually("both Eureka peers' failures in the status", async () => {
      const s = await node.ctl(["object", "status", "get", "eureka2", "-o", "json"]);
      const own = Object.values(JSON.parse(s.stdout) as Record<string, { error: string }>)[0];
      return dead.every((p) => own.error.includes(`127.0.0.1:${p}/eureka/apps: `));
    }, 5_000);

    // Moved to a Consul that accepts connections and never answers: not "ready" before its first read.
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of silent) held.push(conn);
    })().catch(() => {});
    try {
      const hung = await node.ctl(
        ["object", "update"],
        `kind: ConsulServiceRegistry\nname: consul\naddress: 127.0.0.1:${silent.addr.port}\n` +
          `syncInterval: 300ms\n`,
      );
      assert.equal(hung.code, 0, hung.stderr);
      await eventually("the moved registry reading", async () => {
        const s = await node.ctl(["object", "status", "get", "consul", "-o", "json"]);
        const own = Object.values(JSON.parse(s.stdout) as Record<string, { health: string }>)[0];
        return own.health === "reading";
      }, 5_000);
    } finally {
      silent.close();
      for (const conn of held) conn.close();
    }
  } finally {
    await node.stop();
    await Promise.all([consul.shutdown(), eureka.shutdown(), nacos.shutdown(), apps.close()]);
  }
});

Deno.test("service registries: bad specs and pools are refused with the field named", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  try {
    const cases: [string, RegExp][] = [
      ["kind: EtcdServiceRegistry\nname: r\n", /endpoints: is required/],
      [
        "kind: EtcdServiceRegistry\nname: r\nendpoints: [ftp://h:1]\n",
        /endpoints\[0\]: must be an http\(s\) URL or host:port/,
      ],
      [
        "kind: ZookeeperServiceRegistry\nname: r\nzkservices: [zk/1]\n",
        /zkservices\[0\]: must be host:port or host/,
      ],
      ["kind: ConsulServiceRegistry\nname: r\nscheme: ftp\n", /scheme: must be http or https/],
      ["kind: EurekaServiceRegistry\nname: r\nsyncInterval: soon\n", /syncInterval/],
      [
        "kind: ZookeeperServiceRegistry\nname: r\nconnTimeout: 0s\n",
        /connTimeout: must be a positive/,
      ],
      ["kind: NacosServiceRegistry\nname: r\n", /servers: is required/],
      [
        "kind: NacosServiceRegistry\nname: r\nservers:\n- ipAddr: http://127.0.0.1\n  port: 8848\n",
        /servers\[0\]\.ipAddr: must be a host name or IP address, got "http:\/\/127\.0\.0\.1"/,
      ],
      [
        "kind: Pipeline\nname: p\nfilters:\n- name: proxy\n  kind: Proxy\n  pools:\n  - serviceName: orders\n",
        /pools\[0\]\.serviceRegistry: is required with the other one/,
      ],
      [
        "kind: Pipeline\nname: p\nfilters:\n- name: proxy\n  kind: Proxy\n  pools:\n  - loadBalance:\n      policy: random\n",
        /servers: needs at least one server, or serviceRegistry and serviceName/,
      ],
    ];
    await assertRefused(node, cases);
  } finally {
    await node.stop();
  }
});
