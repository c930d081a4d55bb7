/**
 * Reading each kind of service registry: every instance it lists now.
 * Consul, Eureka and Nacos are asked through their HTTP APIs; etcd and
 * ZooKeeper hold Easegress's ServiceInstanceSpec documents (JSON or YAML)
 * under the registry's prefix.
 *
 * @module
 */

import type { ServiceInstance } from "../../filters/service_directory.ts";
import { isPlainObject } from "../../filters/spec.ts";
import { loadYaml } from "../../filters/yaml_module.ts";
import type {
  ConsulRegistrySpec,
  EtcdRegistrySpec,
  EurekaRegistrySpec,
  NacosRegistrySpec,
  RegistrySpec,
  ZookeeperRegistrySpec,
} from "./spec.ts";
import { parseDuration } from "../../filters/spec.ts";
import { ZNONODE, ZooKeeperClient, ZooKeeperError } from "./zookeeper_client.ts";
import { errorText } from "../error_text.ts";
import { joinHostPort } from "../../filters/ip_address.ts";
import { etcdEndpointURL } from "../../cluster/etcd_url.ts";
import type { Etcd3 } from "etcd3";

/** Lists a registry's instances; throws naming what failed. */
export interface RegistrySource {
  list(): Promise<ServiceInstance[]>;
  close(): void | Promise<void>;
}

/** The source for `spec`. */
export function registrySource(spec: RegistrySpec): RegistrySource {
  switch (spec.kind) {
    case "ConsulServiceRegistry":
      return httpSource(() => listConsul(spec));
    case "EurekaServiceRegistry":
      return httpSource(() => listEureka(spec));
    case "NacosServiceRegistry":
      return httpSource(() => listNacos(spec));
    case "EtcdServiceRegistry":
      return etcdSource(spec);
    case "ZookeeperServiceRegistry":
      return zookeeperSource(spec);
  }
}

const HTTP_TIMEOUT_MS = 10_000;

function httpSource(list: () => Promise<ServiceInstance[]>): RegistrySource {
  return { list, close() {} };
}

/** GETs `url` as JSON; throws with the URL and status on failure. */
async function getJson(url: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { accept: "application/json", ...init.headers },
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`${url}: ${errorText(e)}`);
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} answered what is not JSON: ${text.slice(0, 200)}`);
  }
}

async function listConsul(spec: ConsulRegistrySpec): Promise<ServiceInstance[]> {
  const base = `${spec.scheme}://${spec.address}/v1/catalog`;
  const query = new URLSearchParams();
  if (spec.datacenter) query.set("dc", spec.datacenter);
  if (spec.namespace) query.set("ns", spec.namespace);
  const headers: Record<string, string> = spec.token ? { "x-consul-token": spec.token } : {};
  const withQuery = (path: string, q: URLSearchParams) => q.size ? `${path}?${q}` : path;
  const services = await getJson(withQuery(`${base}/services`, query), { headers });
  if (!isPlainObject(services)) throw new Error(`${base}/services: not a map of services`);
  const instances: ServiceInstance[] = [];
  for (const serviceName of Object.keys(services)) {
    if (serviceName === "consul") continue;
    const q = new URLSearchParams(query);
    for (const tag of spec.serviceTags ?? []) q.append("tag", tag);
    const entries = await getJson(
      withQuery(`${base}/service/${encodeURIComponent(serviceName)}`, q),
      { headers },
    );
    if (!Array.isArray(entries)) continue;
    for (const e of entries) {
      if (!isPlainObject(e)) continue;
      const address = instanceAddress(String(e.ServiceAddress || e.Address || ""));
      const port = Number(e.ServicePort);
      if (!address || !validPort(port)) continue;
      instances.push({
        serviceName,
        instanceID: String(e.ServiceID ?? `${address}:${port}`),
        address,
        port,
        scheme: "http",
        tags: stringList(e.ServiceTags),
        weight: 0,
      });
    }
  }
  return instances;
}

async function listEureka(spec: EurekaRegistrySpec): Promise<ServiceInstance[]> {
  const errors: string[] = [];
  // Eureka peers replicate each other: the first that answers is enough.
  for (const endpoint of spec.endpoints) {
    try {
      return eurekaInstances(await getJson(`${endpoint.replace(/\/+$/, "")}/apps`));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  // Every endpoint's failure, not only the last one's.
  throw new Error(errors.join("; ") || "no Eureka endpoint");
}

/** Eureka's `/apps` JSON: instances that are UP, by app name (Eureka's upper case). */
export function eurekaInstances(doc: unknown): ServiceInstance[] {
  const applications = (doc as { applications?: { application?: unknown } })?.applications;
  const instances: ServiceInstance[] = [];
  for (const app of asList(applications?.application)) {
    if (!isPlainObject(app)) continue;
    for (const i of asList(app.instance)) {
      if (!isPlainObject(i) || i.status !== "UP") continue;
      const address = instanceAddress(String(i.ipAddr || i.hostName || ""));
      // As Easegress: an instance per enabled port, http for port and https for securePort.
      for (const [field, scheme] of [[i.port, "http"], [i.securePort, "https"]] as const) {
        const enabled = isPlainObject(field)
          ? String(field["@enabled"]) === "true"
          : field !== undefined && field !== null;
        const port = Number(isPlainObject(field) ? field.$ : field);
        if (!enabled || !address || !validPort(port)) continue;
        instances.push({
          serviceName: String(app.name ?? i.app ?? ""),
          instanceID: String(i.instanceId ?? `${address}:${port}`),
          address,
          port,
          scheme,
          tags: [],
          weight: 0,
        });
      }
    }
  }
  return instances;
}

async function listNacos(spec: NacosRegistrySpec): Promise<ServiceInstance[]> {
  const errors: string[] = [];
  for (const server of spec.servers) {
    const base = `${server.scheme}://${joinHostPort(server.ipAddr, server.port)}${
      server.contextPath.replace(/\/+$/, "")
    }/v1`;
    try {
      const auth = new URLSearchParams();
      if (spec.namespace) auth.set("namespaceId", spec.namespace);
      if (spec.username) auth.set("accessToken", await nacosToken(base, spec));
      const list = await getJson(
        `${base}/ns/service/list?pageNo=1&pageSize=100000${auth.size ? `&${auth}` : ""}`,
      );
      const names = stringList((list as { doms?: unknown })?.doms);
      const instances: ServiceInstance[] = [];
      for (const serviceName of names) {
        const q = new URLSearchParams(auth);
        q.set("serviceName", serviceName);
        q.set("healthyOnly", "true");
        const doc = await getJson(`${base}/ns/instance/list?${q}`);
        for (const h of asList((doc as { hosts?: unknown })?.hosts)) {
          if (!isPlainObject(h) || h.enabled === false || h.healthy === false) continue;
          // Weight 0 is how Nacos takes an instance out of traffic (its clients skip it).
          const weight = h.weight === undefined ? 1 : Number(h.weight);
          if (!(weight > 0)) continue;
          const address = instanceAddress(String(h.ip ?? ""));
          const port = Number(h.port);
          if (!address || !validPort(port)) continue;
          const metadata = isPlainObject(h.metadata) ? h.metadata : {};
          instances.push({
            serviceName,
            instanceID: String(h.instanceId ?? `${address}:${port}`),
            address,
            port,
            scheme: metadata.secure === "true" ? "https" : "http",
            tags: [],
            weight: Math.max(1, Math.round(weight)),
          });
        }
      }
      return instances;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  throw new Error(errors.join("; ") || "no Nacos server");
}

async function nacosToken(base: string, spec: NacosRegistrySpec): Promise<string> {
  const body = new URLSearchParams({ username: spec.username!, password: spec.password ?? "" });
  const doc = await getJson(`${base}/auth/login`, {
    method: "POST",
    body,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  const token = (doc as { accessToken?: unknown })?.accessToken;
  if (typeof token !== "string") throw new Error(`${base}/auth/login gave no accessToken`);
  return token;
}

function etcdSource(spec: EtcdRegistrySpec): RegistrySource {
  let client: Etcd3 | undefined;
  return {
    async list() {
      // Loaded on demand: the etcd client is large.
      const { Etcd3, isRecoverableError } = await import("etcd3");
      const { faultHandling } = await import("../../cluster/etcd_fault_handling.ts");
      // The node's own etcd fault handling: a dead endpoint is skipped for a
      // second (not five) and says which it is.
      client ??= new Etcd3({
        hosts: spec.endpoints.map(etcdEndpointURL),
        dialTimeout: HTTP_TIMEOUT_MS,
        faultHandling: faultHandling(),
      });
      // A deadline: an etcd that accepts but never answers would stop the syncs for good.
      const deadline = Date.now() + HTTP_TIMEOUT_MS;
      let all: Record<string, string> | undefined;
      // The client sends each call to one endpoint it picks, and fails with it: a read that
      // cannot reach its endpoint is sent again, to the others. Three failures in a row skip
      // an endpoint (its breaker), so this many tries reach a live one whichever was picked.
      for (let tries = 3 * spec.endpoints.length; all === undefined; tries--) {
        try {
          all = await client.getAll().prefix(spec.prefix).options({ deadline }).strings();
        } catch (e) {
          if (tries > 1 && isRecoverableError(e as Error) && Date.now() < deadline) continue;
          throw new Error(`etcd ${spec.endpoints.join(", ")}: ${errorText(e)}`);
        }
      }
      return await instancesFromDocuments(
        Object.entries(all).map(([key, value]) => [key.slice(spec.prefix.length), value]),
      );
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

function zookeeperSource(spec: ZookeeperRegistrySpec): RegistrySource {
  const timeoutMs = parseDuration(spec.conntimeout) ?? 6_000;
  return {
    async list() {
      const zk = await ZooKeeperClient.connect(spec.zkservices, timeoutMs);
      try {
        const base = spec.prefix === "/" ? "" : spec.prefix.replace(/\/+$/, "");
        // No node is an answer, not a failure: a prefix removed with its last instance lists
        // none, and an instance deregistered between the two reads is gone.
        const children = await orNoNode(zk.getChildren(spec.prefix), []);
        const documents: [string, string][] = [];
        for (const child of children) {
          const data = await orNoNode(zk.getData(`${base}/${child}`), null);
          if (data !== null) documents.push([child, new TextDecoder().decode(data)]);
        }
        // A node's name is its instance's, no service: a document must name its service.
        return await instancesFromDocuments(documents, { serviceFromKey: false });
      } finally {
        zk.close();
      }
    },
    close() {},
  };
}

/** What `read` gives, or `absent` when ZooKeeper answers that its node does not exist. */
async function orNoNode<T, A>(read: Promise<T>, absent: A): Promise<T | A> {
  try {
    return await read;
  } catch (e) {
    if (e instanceof ZooKeeperError && e.code === ZNONODE) return absent;
    throw e;
  }
}

/** Options for {@linkcode instancesFromDocuments}. */
export interface DocumentsOptions {
  /**
   * Whether a document without `serviceName` belongs to the service its
   * key starts with (etcd's `<serviceName>/<instanceID>`); otherwise it is
   * skipped, as a ZooKeeper node's name is its instance's alone.
   * @default {true}
   */
  serviceFromKey?: boolean;
}

/**
 * Instances from ServiceInstanceSpec documents, each with the key it was
 * found under (relative to the prefix: `<serviceName>/<instanceID>` in
 * etcd, one node per instance in ZooKeeper). Field names are matched
 * without regard to case, as Go's JSON decoding does; a document that is
 * not an instance is skipped.
 */
export async function instancesFromDocuments(
  documents: readonly [key: string, text: string][],
  options: DocumentsOptions = {},
): Promise<ServiceInstance[]> {
  const { serviceFromKey = true } = options;
  const { parse } = await loadYaml();
  const instances: ServiceInstance[] = [];
  for (const [key, text] of documents) {
    let doc: unknown;
    try {
      doc = parse(text);
    } catch {
      continue;
    }
    if (!isPlainObject(doc)) continue;
    const field = (name: string) => {
      for (const [k, v] of Object.entries(doc)) if (k.toLowerCase() === name) return v;
      return undefined;
    };
    const address = instanceAddress(String(field("address") ?? field("ip") ?? ""));
    const port = Number(field("port"));
    const serviceName = String(
      field("servicename") ?? (serviceFromKey ? key.split("/")[0] : undefined) ?? "",
    );
    if (!address || !validPort(port) || !serviceName) continue;
    const scheme = String(field("scheme") || "http").toLowerCase();
    instances.push({
      serviceName,
      instanceID: String(field("instanceid") ?? key),
      address,
      port,
      scheme: scheme === "https" ? "https" : "http",
      tags: stringList(field("tags")),
      weight: Math.max(0, Math.round(Number(field("weight")) || 0)),
    });
  }
  return instances;
}

/** What cannot be in a host name or address: a URL's other parts, and blanks. */
const NOT_IN_HOST = /[\s/?#@\\]/;

/**
 * `raw` as an instance's address, an IPv6 one without brackets (Easegress
 * writes `address:port`, so its users bracket IPv6 addresses); "" when it
 * cannot be a URL's host, so that the instance is skipped rather than
 * failing its pool's whole server list.
 */
function instanceAddress(raw: string): string {
  const address = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  if (address === "" || NOT_IN_HOST.test(address)) return "";
  try {
    new URL(`http://${joinHostPort(address, 1)}`);
    return address;
  } catch {
    return "";
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
}

/** Eureka's XML-born JSON gives a one-item list as the item itself. */
function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
