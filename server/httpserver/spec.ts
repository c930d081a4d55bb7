/**
 * HTTPServer spec: fields, defaults and validation (Easegress v2 shape).
 *
 * @module
 */

import type { SpecReader } from "../../filters/spec.ts";
import { type IPFilterSpec, readIPFilter } from "./ipfilter.ts";
import { keyPairProblems, pemProblem } from "../../filters/pem.ts";
import { readTracingSpec, type TracingSpec } from "../tracing/spec.ts";

/** A header condition of a path. */
export interface HeaderSpec {
  key: string;
  values?: string[];
  regexp?: string;
}

/** A path of a rule. */
export interface PathSpec {
  ipFilter?: IPFilterSpec;
  path?: string;
  pathPrefix?: string;
  pathRegexp?: string;
  rewriteTarget?: string;
  methods?: string[];
  headers?: HeaderSpec[];
  matchAllHeader?: boolean;
  /** Query parameter conditions (Easegress v2.x), shaped as headers: the first value is read. */
  queries?: HeaderSpec[];
  matchAllQuery?: boolean;
  backend: string;
  clientMaxBodySize?: number;
}

/**
 * A host of a rule's `hosts` (Easegress v2.x): a name, a name with one `*`
 * at its start or end (`*.example.com`, `api.*`), or a regexp.
 */
export interface HostSpec {
  value: string;
  isRegexp?: boolean;
}

/** A rule: hosts and paths. */
export interface RuleSpec {
  ipFilter?: IPFilterSpec;
  host?: string;
  hostRegexp?: string;
  /** More hosts; a request for any of them, `host` or `hostRegexp` matches the rule. */
  hosts?: HostSpec[];
  paths: PathSpec[];
}

/** A normalized HTTPServer spec. */
export interface HTTPServerSpec {
  name: string;
  kind: "HTTPServer";
  port: number;
  /** Listen address; by default every address, IPv6 and IPv4, as Easegress's (see server/any_address.ts). */
  address?: string;
  keepAlive: boolean;
  keepAliveTimeout: string;
  https: boolean;
  http3: boolean;
  /** Certificates come from the AutoCertManager too (chosen by server name). */
  autoCert?: boolean;
  certBase64?: string;
  keyBase64?: string;
  /** Clients must present a certificate that chains to this CA (mutual TLS). */
  caCertBase64?: string;
  certs: Record<string, string>;
  keys: Record<string, string>;
  maxConnections: number;
  cacheSize: number;
  xForwardedFor: boolean;
  clientMaxBodySize: number;
  ipFilter?: IPFilterSpec;
  /** A GlobalFilter object whose stages run around every request's pipeline. */
  globalFilter?: string;
  /** Spans of the requests served, sent to Zipkin. */
  tracing?: TracingSpec;
  /** Easegress v2.3's router choice: `Ordered` (the default), rules and paths tried in turn. */
  routerKind?: "Ordered";
  rules: RuleSpec[];
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];
// Empty is unset, as in Easegress, whose schema checks no pattern on an omitted field's "".
const ABSOLUTE_PATH = { pattern: /^(?:\/|$)/, patternName: 'a path starting with "/"' };

/** Reads an HTTPServer spec at `r` (name and kind already read). */
export function readHTTPServerSpec(r: SpecReader, name: string): HTTPServerSpec {
  const spec: HTTPServerSpec = {
    name,
    kind: "HTTPServer",
    port: r.int("port", { required: true, min: 1, max: 65535 }) ?? 0,
    keepAlive: r.bool("keepAlive", true),
    keepAliveTimeout: r.duration("keepAliveTimeout", { default: "60s" }),
    https: r.bool("https", false),
    http3: r.bool("http3", false),
    certs: r.stringMap("certs") ?? {},
    keys: r.stringMap("keys") ?? {},
    maxConnections: r.int("maxConnections", { default: 10240, min: 1 }),
    cacheSize: r.int("cacheSize", { default: 0, min: 0 }),
    xForwardedFor: r.bool("xForwardedFor", false),
    clientMaxBodySize: r.int("clientMaxBodySize", { default: 0, min: -1 }),
    rules: [],
  };
  const address = r.string("address");
  if (address !== undefined) spec.address = address;
  const certBase64 = r.string("certBase64");
  const keyBase64 = r.string("keyBase64");
  if (certBase64) spec.certBase64 = certBase64;
  if (keyBase64) spec.keyBase64 = keyBase64;
  const ipFilter = r.object("ipFilter", readIPFilter);
  if (ipFilter) spec.ipFilter = ipFilter;
  const globalFilter = r.string("globalFilter");
  if (globalFilter) spec.globalFilter = globalFilter;
  // Empty is the default, as in Easegress.
  const routerKind = r.string("routerKind");
  if (routerKind === "Ordered") spec.routerKind = routerKind;
  else if (routerKind === "RadixTree") {
    r.problem("routerKind", "RadixTree is not supported yet; Ordered (the default) is");
  } else if (routerKind) {
    r.problem("routerKind", `must be Ordered or RadixTree, got "${routerKind}"`);
  }
  spec.rules = r.array("rules", readRule) ?? [];

  if (r.raw.tracing === null || r.raw.tracing === "") r.ignore("tracing");
  else {
    const tracing = r.object("tracing", readTracingSpec);
    if (tracing) spec.tracing = tracing;
  }
  if (r.bool("autoCert", false)) spec.autoCert = true;
  const caCertBase64 = r.string("caCertBase64");
  if (caCertBase64) {
    spec.caCertBase64 = caCertBase64;
    const problem = pemProblem(caCertBase64, "certificate");
    if (problem) r.problem("caCertBase64", problem);
    if (!spec.https) r.problem("caCertBase64", "needs https: true");
    if (spec.http3) {
      r.problem(
        "http3",
        "cannot be combined with caCertBase64: HTTP/3 here takes no client certificates",
      );
    }
  }

  if (spec.http3 && !spec.https) r.problem("http3", "needs https: true");
  if (spec.autoCert && !spec.https) r.problem("autoCert", "needs https: true");
  if (spec.https) {
    if (!!certBase64 !== !!keyBase64) {
      r.problem(certBase64 ? "keyBase64" : "certBase64", "is required with the other one");
    }
    if (!certBase64 && !Object.keys(spec.certs).length && !spec.autoCert) {
      r.problem("https", "needs certBase64/keyBase64, certs/keys or autoCert: true");
    }
    for (const certName of Object.keys(spec.certs)) {
      if (!(certName in spec.keys)) {
        r.problem(`keys.${certName}`, "is missing for certs." + certName);
      }
    }
    for (const keyName of Object.keys(spec.keys)) {
      if (!(keyName in spec.certs)) r.problem(`certs.${keyName}`, "is missing for keys." + keyName);
    }
    const pairs: [string, string | undefined, string, string | undefined][] = [
      // Empty ones are unset, as Easegress writes them.
      ["certBase64", spec.certBase64, "keyBase64", spec.keyBase64],
    ];
    for (const [name, value] of Object.entries(spec.certs)) {
      pairs.push([`certs.${name}`, value, `keys.${name}`, spec.keys[name]]);
    }
    for (const [name, value] of Object.entries(spec.keys)) {
      if (!(name in spec.certs)) pairs.push(["", undefined, `keys.${name}`, value]);
    }
    for (const pair of pairs) {
      for (const [field, problem] of keyPairProblems(...pair)) r.problem(field, problem);
    }
  }
  return spec;
}

function readRule(r: SpecReader): RuleSpec {
  const rule: RuleSpec = { paths: [] };
  const ipFilter = r.object("ipFilter", readIPFilter);
  if (ipFilter) rule.ipFilter = ipFilter;
  const host = r.string("host");
  if (host) rule.host = host;
  const hostRegexp = r.regexp("hostRegexp");
  if (hostRegexp) rule.hostRegexp = hostRegexp;
  const hosts = r.array("hosts", readHost);
  if (hosts?.length) rule.hosts = hosts;
  rule.paths = r.array("paths", readPath) ?? [];
  return rule;
}

function readHost(r: SpecReader): HostSpec {
  const isRegexp = r.bool("isRegexp", false);
  if (isRegexp) return { value: r.regexp("value", { required: true }) ?? "", isRegexp };
  const value = r.string("value", { required: true }) ?? "";
  const wildcards = value.split("*").length - 1;
  if (wildcards > 1) r.problem("value", `has more than one wildcard (*): "${value}"`);
  else if (wildcards === 1 && !value.startsWith("*") && !value.endsWith("*")) {
    r.problem("value", `may have a wildcard (*) only at its start or end: "${value}"`);
  }
  return { value };
}

/** A header or query condition: a key and the values or regexp its first value must match. */
function readCondition(r: SpecReader): HeaderSpec {
  const h: HeaderSpec = { key: r.string("key", { required: true }) ?? "" };
  const values = r.stringArray("values");
  const regexp = r.regexp("regexp");
  if (values?.length) h.values = values;
  if (regexp) h.regexp = regexp;
  if (!values?.length && !regexp) r.problem("", "needs values or regexp");
  return h;
}

function readPath(r: SpecReader): PathSpec {
  const p: PathSpec = { backend: "" };
  const ipFilter = r.object("ipFilter", readIPFilter);
  if (ipFilter) p.ipFilter = ipFilter;
  const path = r.string("path", ABSOLUTE_PATH);
  const pathPrefix = r.string("pathPrefix", ABSOLUTE_PATH);
  const pathRegexp = r.regexp("pathRegexp");
  const rewriteTarget = r.string("rewriteTarget");
  if (path) p.path = path;
  if (pathPrefix) p.pathPrefix = pathPrefix;
  if (pathRegexp) p.pathRegexp = pathRegexp;
  if (rewriteTarget) {
    p.rewriteTarget = rewriteTarget;
    if (!path && !pathPrefix && !pathRegexp) {
      r.problem("rewriteTarget", "needs one of path, pathPrefix or pathRegexp");
    }
  }
  const methods = r.stringArray("methods");
  if (methods?.length) {
    methods.forEach((m, i) => {
      if (!METHODS.includes(m)) r.problem(`methods[${i}]`, `"${m}" is not an HTTP method`);
    });
    p.methods = methods;
  }
  const headers = r.array("headers", readCondition);
  if (headers?.length) p.headers = headers;
  const matchAll = r.bool("matchAllHeader", false);
  if (matchAll) p.matchAllHeader = true;
  const queries = r.array("queries", readCondition);
  if (queries?.length) p.queries = queries;
  if (r.bool("matchAllQuery", false)) p.matchAllQuery = true;
  p.backend = r.string("backend", { required: true }) ?? "";
  // An empty name would answer every request of the path with 503.
  if (p.backend === "" && r.has("backend")) r.problem("backend", "must name a pipeline");
  const limit = r.int("clientMaxBodySize", { min: -1 });
  if (limit) p.clientMaxBodySize = limit;
  return p;
}

/**
 * Whether two specs need different listeners (port, address or TLS
 * changed). The limits are not among them: a listener that can applies
 * them in place (see `limitsChanged` and `Listener.setLimits`).
 */
export function listenerChanged(a: HTTPServerSpec, b: HTTPServerSpec): boolean {
  return a.port !== b.port || a.address !== b.address || a.https !== b.https ||
    a.http3 !== b.http3 || a.autoCert !== b.autoCert || a.caCertBase64 !== b.caCertBase64 ||
    a.certBase64 !== b.certBase64 ||
    a.keyBase64 !== b.keyBase64 ||
    JSON.stringify([a.certs, a.keys]) !== JSON.stringify([b.certs, b.keys]);
}

/** Whether two specs differ in `maxConnections` or `keepAliveTimeout`. */
export function limitsChanged(a: HTTPServerSpec, b: HTTPServerSpec): boolean {
  return a.maxConnections !== b.maxConnections || a.keepAliveTimeout !== b.keepAliveTimeout;
}
