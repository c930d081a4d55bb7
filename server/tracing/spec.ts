/**
 * An HTTPServer's `tracing`, as Easegress's: spans of the requests it
 * serves, and of the Proxy's upstream calls within them, sampled and sent
 * to a Zipkin server; B3 headers carry the trace upstream.
 *
 * @module
 */

import { type SpecReader, urlWithProtocol } from "../../filters/spec.ts";

/** Where and how spans go to Zipkin. */
export interface ZipkinSpec {
  /** The Zipkin server's span endpoint, such as http://zipkin:9411/api/v2/spans. */
  serverURL: string;
  /** The share of requests traced, 0..1 (a request already traced upstream keeps its decision). */
  sampleRate: number;
  /** This node's "host:port" in the spans' local endpoint. */
  hostport?: string;
  /** Join a client's span (B3) as the same span instead of a child of it. */
  sameSpan: boolean;
  /** 128-bit trace ids instead of 64-bit ones. */
  id128Bit: boolean;
}

/** A normalized tracing spec. */
export interface TracingSpec {
  serviceName: string;
  /** Tags on every span. */
  tags?: Record<string, string>;
  zipkin: ZipkinSpec;
}

/** Reads `tracing` at `r`. */
export function readTracingSpec(r: SpecReader): TracingSpec {
  const spec: TracingSpec = {
    // Not empty, as Easegress's schema (minLength 1) has it: spans need a service to be found by.
    serviceName: r.string("serviceName", {
      required: true,
      pattern: /./,
      patternName: "a name, not empty",
    }) ?? "",
    zipkin: r.object("zipkin", readZipkin, { required: true }) ??
      { serverURL: "", sampleRate: 0, sameSpan: false, id128Bit: false },
  };
  const tags = r.stringMap("tags");
  if (tags && Object.keys(tags).length) spec.tags = tags;
  return spec;
}

function readZipkin(r: SpecReader): ZipkinSpec {
  const serverURL = r.string("serverURL", { required: true }) ?? "";
  if (serverURL && !urlWithProtocol(serverURL, ["http:", "https:"])) {
    r.problem("serverURL", `must be an http(s) URL, got "${serverURL}"`);
  }
  const sampleRate = r.number("sampleRate", { required: true, min: 0, max: 1 }) ?? 0;
  const spec: ZipkinSpec = {
    serverURL,
    sampleRate,
    sameSpan: r.bool("sameSpan", false),
    id128Bit: r.bool("id128Bit", false),
  };
  const hostport = r.string("hostport");
  if (hostport) {
    const problem = hostPortProblem(hostport);
    if (problem === undefined) spec.hostport = hostport;
    else r.problem("hostport", `${problem}, got "${hostport}"`);
  }
  return spec;
}

/**
 * What is wrong with a `hostport`, as zipkin-go's NewEndpoint reads one
 * (Go's net.SplitHostPort, then a 16-bit port), or undefined: a host alone
 * (port 0), `host:port` or `[IPv6]:port`. Easegress refuses the others.
 */
function hostPortProblem(hostport: string): string | undefined {
  // Without a colon, zipkin-go takes it as the host, on port 0.
  if (!hostport.includes(":") || hostport === ":0") return undefined;
  const colon = hostport.lastIndexOf(":");
  let host: string;
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0 || end + 1 !== colon) return "must be host, host:port or [IPv6]:port";
    host = hostport.slice(1, end);
  } else {
    host = hostport.slice(0, colon);
    if (host.includes(":")) return "must be host, host:port or [IPv6]:port (an IPv6 address in [])";
  }
  const port = hostport.slice(colon + 1);
  if (/[[\]]/.test(host) || /[[\]]/.test(port)) return "must be host, host:port or [IPv6]:port";
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    return "its port must be a number from 0 to 65535";
  }
  if (host === "") return "must name a host or an address";
  return undefined;
}
