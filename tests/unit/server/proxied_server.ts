/**
 * Objects for data-plane tests: a Pipeline `p` whose Proxy filter `proxy`
 * sends to one backend, and an HTTPServer `s` routing every path to it.
 *
 * @module
 */

import type { FilterRegistry } from "../../../filters/filter.ts";
import { type ObjectSpec, validateObject } from "../../../server/objects.ts";

/**
 * Pipeline `p` proxying to `backendUrl` and HTTPServer `s` on 127.0.0.1:`port`
 * routing to it; `server` adds fields to the HTTPServer (`tracing`, say).
 */
export function proxiedServer(
  filters: FilterRegistry,
  backendUrl: string,
  port: number,
  server: Record<string, unknown> = {},
): ObjectSpec[] {
  return [
    validateObject({
      kind: "Pipeline",
      name: "p",
      filters: [{ name: "proxy", kind: "Proxy", pools: [{ servers: [{ url: backendUrl }] }] }],
    }, filters),
    validateObject({
      kind: "HTTPServer",
      name: "s",
      port,
      address: "127.0.0.1",
      rules: [{ paths: [{ pathPrefix: "/", backend: "p" }] }],
      ...server,
    }, filters),
  ];
}
