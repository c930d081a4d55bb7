/**
 * Service registry objects (Easegress v2's specs): where a node finds the
 * instances of services for Proxy pools that name the object in
 * `serviceRegistry`. Consul, Eureka and Nacos through their HTTP APIs, etcd
 * and ZooKeeper through their own protocols.
 *
 * @module
 */

import { parseDuration, type SpecReader, urlWithProtocol } from "../../filters/spec.ts";

/** ConsulServiceRegistry. */
export interface ConsulRegistrySpec {
  name: string;
  kind: "ConsulServiceRegistry";
  address: string;
  scheme: "http" | "https";
  datacenter?: string;
  token?: string;
  namespace?: string;
  syncInterval: string;
  serviceTags?: string[];
}

/** EurekaServiceRegistry. */
export interface EurekaRegistrySpec {
  name: string;
  kind: "EurekaServiceRegistry";
  endpoints: string[];
  syncInterval: string;
}

/** NacosServiceRegistry. */
export interface NacosRegistrySpec {
  name: string;
  kind: "NacosServiceRegistry";
  servers: { ipAddr: string; port: number; scheme: string; contextPath: string }[];
  syncInterval: string;
  namespace?: string;
  username?: string;
  password?: string;
}

/** EtcdServiceRegistry. */
export interface EtcdRegistrySpec {
  name: string;
  kind: "EtcdServiceRegistry";
  endpoints: string[];
  prefix: string;
  /** How often the instances are read again. */
  cacheTimeout: string;
}

/** ZookeeperServiceRegistry (its field names as Easegress spells them, `conntimeout` included). */
export interface ZookeeperRegistrySpec {
  name: string;
  kind: "ZookeeperServiceRegistry";
  zkservices: string[];
  prefix: string;
  conntimeout: string;
  syncInterval: string;
}

/** Any service registry spec. */
export type RegistrySpec =
  | ConsulRegistrySpec
  | EurekaRegistrySpec
  | NacosRegistrySpec
  | EtcdRegistrySpec
  | ZookeeperRegistrySpec;

/** The registry kinds. */
export const REGISTRY_KINDS = [
  "ConsulServiceRegistry",
  "EtcdServiceRegistry",
  "EurekaServiceRegistry",
  "NacosServiceRegistry",
  "ZookeeperServiceRegistry",
] as const;

/** Whether `kind` is a service registry kind. */
export function isRegistryKind(kind: string): kind is RegistrySpec["kind"] {
  return (REGISTRY_KINDS as readonly string[]).includes(kind);
}

/** How often a registry is read, in milliseconds. */
export function syncIntervalMs(spec: RegistrySpec): number {
  const text = spec.kind === "EtcdServiceRegistry" ? spec.cacheTimeout : spec.syncInterval;
  return parseDuration(text) ?? 10_000;
}

/** A host name, IPv4 or IPv6 address: no scheme, port or path. */
const NACOS_HOST = /^(?:[^\s/:?#@[\]]+|[0-9a-fA-F.]*:[0-9a-fA-F.]*:[0-9a-fA-F:.]*)$/;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s/:?#]+):\d{1,5}$/;

/** A URL naming its port, read from the text (URL drops a scheme's default port). */
const URL_WITH_PORT = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:@]*):\d+(?:[/?#]|$)/i;

function positiveDuration(r: SpecReader, field: string, fallback: string): string {
  const value = r.duration(field, { default: fallback });
  if ((parseDuration(value) ?? 0) <= 0) {
    r.problem(field, `must be a positive duration such as ${fallback}`);
  }
  return value;
}

/** ZooKeeper servers: host:port, or a host alone at 2181 as Go's ZooKeeper client takes it. */
function zkServers(r: SpecReader, field: string, fallback: string[]): string[] {
  const given = r.stringArray(field) ?? fallback;
  if (!given.length) r.problem(field, "needs at least one host:port");
  return given.map((hp, i) => {
    const server = hp.includes(":") ? hp : `${hp}:2181`;
    if (!HOST_PORT.test(server)) {
      r.problem(`${field}[${i}]`, `must be host:port or host, got "${hp}"`);
    }
    return server;
  });
}

function urls(r: SpecReader, field: string, fallback?: string[]): string[] {
  const list = r.stringArray(field, { required: fallback === undefined }) ?? fallback ?? [];
  if (!list.length) r.problem(field, "needs at least one URL");
  list.forEach((u, i) => {
    if (!urlWithProtocol(u, ["http:", "https:"])) {
      r.problem(`${field}[${i}]`, `must be an http(s) URL, got "${u}"`);
    }
  });
  return list;
}

/** etcd endpoints: http(s) URLs, or host:port as Easegress's examples write them (http then). */
function etcdEndpoints(r: SpecReader, field: string): string[] {
  const list = r.stringArray(field, { required: true }) ?? [];
  if (!list.length) r.problem(field, "needs at least one URL or host:port");
  list.forEach((u, i) => {
    if (!HOST_PORT.test(u) && !urlWithProtocol(u, ["http:", "https:"])) {
      r.problem(`${field}[${i}]`, `must be an http(s) URL or host:port, got "${u}"`);
    } else if (!HOST_PORT.test(u) && !URL_WITH_PORT.test(u)) {
      // etcd's gRPC client would dial port 443 whatever the scheme.
      r.problem(`${field}[${i}]`, `must name its port (etcd's is 2379), got "${u}"`);
    }
  });
  return list;
}

function optional<T extends object, K extends keyof T>(spec: T, key: K, value: T[K] | undefined) {
  if (value !== undefined && value !== "" && !(Array.isArray(value) && !value.length)) {
    spec[key] = value;
  }
}

/** Reads a service registry spec of `kind` at `r` (name and kind already read). */
export function readRegistrySpec(
  r: SpecReader,
  name: string,
  kind: RegistrySpec["kind"],
): RegistrySpec {
  switch (kind) {
    case "ConsulServiceRegistry": {
      const given = r.string("address", { default: "127.0.0.1:8500" });
      // Consul's Go client, which Easegress hands the address to, takes it
      // after http:// or https:// too, https:// meaning TLS whatever `scheme` says.
      const prefixed = /^(https?):\/\//.exec(given);
      const address = prefixed ? given.slice(prefixed[0].length) : given;
      if (!HOST_PORT.test(address)) r.problem("address", `must be host:port, got "${given}"`);
      const scheme = r.string("scheme", { default: "http" });
      if (scheme !== "http" && scheme !== "https") {
        r.problem("scheme", `must be http or https, got "${scheme}"`);
      }
      const tls = scheme === "https" || prefixed?.[1] === "https";
      const spec: ConsulRegistrySpec = {
        name,
        kind,
        address,
        scheme: tls ? "https" : "http",
        syncInterval: positiveDuration(r, "syncInterval", "10s"),
      };
      optional(spec, "datacenter", r.string("datacenter"));
      optional(spec, "token", r.string("token"));
      optional(spec, "namespace", r.string("namespace"));
      optional(spec, "serviceTags", r.stringArray("serviceTags"));
      return spec;
    }
    case "EurekaServiceRegistry":
      return {
        name,
        kind,
        endpoints: urls(r, "endpoints", ["http://127.0.0.1:8761/eureka"]),
        syncInterval: positiveDuration(r, "syncInterval", "10s"),
      };
    case "NacosServiceRegistry": {
      const spec: NacosRegistrySpec = {
        name,
        kind,
        servers: r.array("servers", (sr) => {
          const scheme = sr.string("scheme", { default: "http" });
          if (scheme !== "http" && scheme !== "https") {
            sr.problem("scheme", `must be http or https, got "${scheme}"`);
          }
          const ipAddr = sr.string("ipAddr", { required: true }) ?? "";
          if (ipAddr && !NACOS_HOST.test(ipAddr)) {
            sr.problem("ipAddr", `must be a host name or IP address, got "${ipAddr}"`);
          }
          return {
            ipAddr,
            port: sr.int("port", { required: true, min: 1, max: 65535 }) ?? 0,
            scheme,
            contextPath: nacosContextPath(sr.string("contextPath", { default: "/nacos" })),
          };
        }, { required: true, minItems: 1 }) ?? [],
        syncInterval: positiveDuration(r, "syncInterval", "10s"),
      };
      optional(spec, "namespace", r.string("namespace"));
      optional(spec, "username", r.string("username"));
      optional(spec, "password", r.string("password"));
      // Go's client settings Easegress passes through; they change nothing here.
      r.ignore("timeoutMs", "beatInterval", "logLevel");
      return spec;
    }
    case "EtcdServiceRegistry": {
      const prefix = r.string("prefix", { default: "/services/" });
      // Easegress's pattern ^/, as for ZooKeeper: "" would read every key of the etcd.
      if (!prefix.startsWith("/")) r.problem("prefix", `must start with "/", got "${prefix}"`);
      return {
        name,
        kind,
        endpoints: etcdEndpoints(r, "endpoints"),
        prefix: withTrailingSlash(prefix),
        cacheTimeout: positiveDuration(r, "cacheTimeout", "10s"),
      };
    }
    case "ZookeeperServiceRegistry": {
      const given = r.string("prefix", { default: "/" });
      if (!given.startsWith("/")) r.problem("prefix", `must start with "/", got "${given}"`);
      // ZooKeeper paths have no trailing slash: "/services/" means the node "/services".
      const prefix = given.replace(/\/+$/, "") || "/";
      return {
        name,
        kind,
        zkservices: zkServers(r, "zkservices", ["127.0.0.1:2181"]),
        prefix,
        // Easegress's own reference spells it connTimeout, and Go's decoding takes either.
        conntimeout: positiveDuration(
          r,
          r.has("connTimeout") && !r.has("conntimeout") ? "connTimeout" : "conntimeout",
          "6s",
        ),
        syncInterval: positiveDuration(r, "syncInterval", "10s"),
      };
    }
  }
}

/** A Nacos context path as Nacos's Go client takes it: empty is /nacos, the leading slash optional. */
function nacosContextPath(path: string): string {
  const trimmed = path.trim().replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed ? `/${trimmed}` : path.trim() ? "" : "/nacos";
}

function withTrailingSlash(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}
