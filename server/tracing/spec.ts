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
    serviceName: r.string("serviceName", { required: true }) ?? "",
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
  if (hostport) spec.hostport = hostport;
  return spec;
}
