import assert from "node:assert/strict";
import { eurekaInstances, instancesFromDocuments } from "../../../server/registry/sources.ts";
import { registeredServers, ServerPool } from "../../../filters/proxy/pool.ts";
import type { Transport } from "../../../filters/proxy/transport.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { instanceURL, ServiceDirectory } from "../../../filters/service_directory.ts";
import { etcdEndpointURL } from "../../../cluster/etcd_url.ts";
import {
  type ConsulRegistrySpec,
  type EtcdRegistrySpec,
  readRegistrySpec,
  type RegistrySpec,
  type ZookeeperRegistrySpec,
} from "../../../server/registry/spec.ts";
import { SpecReader } from "../../../filters/spec.ts";

/** The registry spec `raw` reads as, or the problems it throws. */
function readSpec(kind: RegistrySpec["kind"], raw: Record<string, unknown>): RegistrySpec {
  const r = SpecReader.root(raw);
  const spec = readRegistrySpec(r, "r", kind);
  r.finish();
  r.throwIfProblems();
  return spec;
}

Deno.test("eurekaInstances: UP instances only, a single app or instance as itself, secure ports as https", () => {
  const instances = eurekaInstances({
    applications: {
      application: {
        name: "ORDERS",
        instance: {
          instanceId: "i1",
          ipAddr: "10.0.0.1",
          status: "UP",
          port: { $: 8080 },
          securePort: { $: 8443, "@enabled": "true" },
        },
      },
    },
  });
  assert.deepEqual(instances, [{
    serviceName: "ORDERS",
    instanceID: "i1",
    address: "10.0.0.1",
    port: 8443,
    scheme: "https",
    tags: [],
    weight: 0,
  }]);
  assert.deepEqual(
    eurekaInstances({
      applications: {
        application: [{ name: "A", instance: [{ status: "DOWN", ipAddr: "x", port: { $: 1 } }] }],
      },
    }),
    [],
  );
  assert.deepEqual(eurekaInstances({}), []);
  // Every enabled port is an instance, as Easegress lists them; a disabled port is none.
  const both = { $: 8080, "@enabled": "true" };
  const ports = (port: unknown, securePort: unknown) =>
    eurekaInstances({
      applications: {
        application: { name: "A", instance: { status: "UP", ipAddr: "h", port, securePort } },
      },
    }).map((i) => `${i.scheme}:${i.port}`);
  assert.deepEqual(ports(both, { $: 8443, "@enabled": "true" }), ["http:8080", "https:8443"]);
  assert.deepEqual(ports({ $: 8080, "@enabled": "false" }, { $: 8443, "@enabled": "false" }), []);
  assert.deepEqual(ports({ $: 8080, "@enabled": "false" }, undefined), []);
  assert.deepEqual(ports(both, undefined), ["http:8080"]);
});

Deno.test("instancesFromDocuments: JSON or YAML, field names in any case, the key's service as a fallback", async () => {
  const instances = await instancesFromDocuments([
    [
      "orders/a",
      '{"ServiceName":"orders","InstanceID":"a","Address":"127.0.0.1","Port":81,"Scheme":"HTTPS","Tags":["x"],"Weight":3}',
    ],
    ["orders/b", "address: 127.0.0.2\nport: 82\n"],
    ["orders/c", "port: 83\n"], // no address
    ["orders/d", "address: 127.0.0.4\nport: 70000\n"], // no such port
    ["orders/e", "{not yaml: ["],
  ]);
  assert.deepEqual(instances, [
    {
      serviceName: "orders",
      instanceID: "a",
      address: "127.0.0.1",
      port: 81,
      scheme: "https",
      tags: ["x"],
      weight: 3,
    },
    {
      serviceName: "orders",
      instanceID: "orders/b",
      address: "127.0.0.2",
      port: 82,
      scheme: "http",
      tags: [],
      weight: 0,
    },
  ]);
});

Deno.test("instancesFromDocuments: a ZooKeeper node's name is no service; a document without one is skipped", async () => {
  const instances = await instancesFromDocuments([
    ["i1", '{"serviceName":"orders","address":"127.0.0.1","port":81}'],
    ["i2", '{"address":"127.0.0.2","port":82}'],
  ], { serviceFromKey: false });
  assert.deepEqual(instances.map((i) => [i.serviceName, i.instanceID, i.port]), [
    ["orders", "i1", 81],
  ]);
});

Deno.test("instancesFromDocuments: IPv6 addresses with or without brackets; one that is no host is skipped", async () => {
  const instances = await instancesFromDocuments([
    ["v6/a", "address: '::1'\nport: 81\n"],
    ["v6/b", "address: '[::1]'\nport: 82\n"], // Easegress joins address:port, so it needs brackets
    ["v6/c", "address: 'host/path'\nport: 83\n"],
    ["v6/d", "address: 'a b'\nport: 84\n"],
    ["v6/e", "address: '[::1'\nport: 85\n"],
    ["v6/f", "address: 'user@host'\nport: 86\n"],
  ]);
  assert.deepEqual(instances.map(instanceURL), ["http://[::1]:81", "http://[::1]:82"]);
  // Every server of the pool parses: one bad document does not fail the rest.
  assert.deepEqual(
    registeredServers(instances, undefined)?.map((s) => new URL(s.url).port),
    ["81", "82"],
  );
});

Deno.test("registeredServers: serverTags choose, none left means the static servers; weights kept", () => {
  const instances = [
    {
      serviceName: "s",
      instanceID: "1",
      address: "10.0.0.1",
      port: 80,
      scheme: "http",
      tags: ["v1"],
      weight: 2,
    },
    {
      serviceName: "s",
      instanceID: "2",
      address: "::1",
      port: 81,
      scheme: "https",
      tags: ["v2"],
      weight: 0,
    },
  ];
  assert.deepEqual(registeredServers(instances, undefined)?.map((s) => s.url), [
    "http://10.0.0.1:80",
    "https://[::1]:81",
  ]);
  assert.deepEqual(registeredServers(instances, ["v1"]), [{
    url: "http://10.0.0.1:80",
    tags: ["v1"],
    weight: 2,
  }]);
  assert.equal(registeredServers(instances, ["v3"]), undefined);
  assert.equal(registeredServers([], undefined), undefined);
  assert.equal(instanceURL(instances[1]), "https://[::1]:81");
});

Deno.test("ServiceDirectory: updates reach watchers until they stop watching", () => {
  const directory = new ServiceDirectory();
  let calls = 0;
  const stop = directory.watch(() => calls++);
  const one = {
    serviceName: "s",
    instanceID: "1",
    address: "a",
    port: 1,
    scheme: "http",
    tags: [],
    weight: 0,
  };
  directory.update("r", { s: [one] });
  assert.deepEqual(directory.instances("r", "s"), [one]);
  assert.deepEqual(directory.instances("r", "other"), []);
  directory.update("r", undefined);
  assert.deepEqual(directory.instances("r", "s"), []);
  stop();
  directory.update("r", {});
  assert.equal(calls, 2);
});

Deno.test("ServerPool: a registry instance reweighted moves the traffic", async () => {
  const directory = new ServiceDirectory();
  const instance = (id: string, port: number, weight: number) => ({
    serviceName: "s",
    instanceID: id,
    address: "127.0.0.1",
    port,
    scheme: "http",
    tags: [],
    weight,
  });
  directory.update("r", { s: [instance("a", 1001, 1), instance("b", 1002, 0)] });
  const sentTo: string[] = [];
  const transports = (origin: string): Transport => ({
    request: () => {
      sentTo.push(origin);
      return Promise.resolve({ status: 200, headers: new Headers(), body: null });
    },
    close: () => {},
  });
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const pool = new ServerPool(
    {
      servers: [],
      serviceRegistry: "r",
      serviceName: "s",
      loadBalance: { policy: "weightedRandom" },
    },
    transports,
    0,
    quiet,
    {},
    "proxy",
    directory,
  );
  const sendSome = async () => {
    sentTo.length = 0;
    for (let i = 0; i < 20; i++) await pool.send(new Context(new HttpRequest()));
    return new Set(sentTo);
  };
  assert.deepEqual(await sendSome(), new Set(["http://127.0.0.1:1001"]));
  directory.update("r", { s: [instance("a", 1001, 0), instance("b", 1002, 1)] });
  assert.deepEqual(await sendSome(), new Set(["http://127.0.0.1:1002"]));
  assert.deepEqual(pool.serverURLs, ["http://127.0.0.1:1001", "http://127.0.0.1:1002"]);
  pool.close();
});

Deno.test("ConsulServiceRegistry: address after http:// or https:// as Consul's Go client takes it", () => {
  const consul = (address: string) =>
    readSpec("ConsulServiceRegistry", { address }) as ConsulRegistrySpec;
  const plain = consul("http://127.0.0.1:8500");
  assert.deepEqual([plain.address, plain.scheme], ["127.0.0.1:8500", "http"]);
  const tls = consul("https://consul.local:8501");
  assert.deepEqual([tls.address, tls.scheme], ["consul.local:8501", "https"]);
  assert.throws(
    () => readSpec("ConsulServiceRegistry", { address: "unix:///run/consul.sock" }),
    /address: must be host:port, got "unix:\/\/\/run\/consul.sock"/,
  );
});

Deno.test("EtcdServiceRegistry: an endpoint URL is given to the client as its scheme and host", () => {
  assert.deepEqual(
    ["127.0.0.1:2379", "http://127.0.0.1:2379/", "https://etcd.local:2379/v3", "http://[::1]:2379"]
      .map(etcdEndpointURL),
    [
      "http://127.0.0.1:2379",
      "http://127.0.0.1:2379",
      "https://etcd.local:2379",
      "http://[::1]:2379",
    ],
  );
});

Deno.test("EtcdServiceRegistry: an endpoint must name its port", () => {
  const etcd = (endpoint: string) => readSpec("EtcdServiceRegistry", { endpoints: [endpoint] });
  assert.deepEqual((etcd("https://etcd.local:2379/v3") as EtcdRegistrySpec).endpoints, [
    "https://etcd.local:2379/v3",
  ]);
  assert.throws(
    () => etcd("http://127.0.0.1"),
    /endpoints\[0\]: must name its port \(etcd's is 2379\), got "http:\/\/127.0.0.1"/,
  );
  assert.throws(() => etcd("https://etcd.local/"), /endpoints\[0\]: must name its port/);
});

Deno.test("EtcdServiceRegistry: prefix must start with a slash, as Easegress's pattern ^/", () => {
  const etcd = (prefix: string) =>
    readSpec("EtcdServiceRegistry", { endpoints: ["127.0.0.1:2379"], prefix });
  assert.equal((etcd("/svc") as EtcdRegistrySpec).prefix, "/svc/");
  assert.throws(() => etcd("services/"), /prefix: must start with "\/", got "services\/"/);
  assert.throws(() => etcd(""), /prefix: must start with "\/", got ""/);
});

Deno.test("ZookeeperServiceRegistry: a server without a port is at 2181, as Go's ZooKeeper client takes it", () => {
  const zk = (zkservices: string[]) =>
    readSpec("ZookeeperServiceRegistry", { zkservices }) as ZookeeperRegistrySpec;
  assert.deepEqual(zk(["zk1", "10.0.0.2:2182"]).zkservices, ["zk1:2181", "10.0.0.2:2182"]);
  assert.throws(() => zk(["zk/1"]), /zkservices\[0\]: must be host:port or host, got "zk\/1"/);
});
