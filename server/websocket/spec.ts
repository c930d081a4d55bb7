/**
 * The WebSocketServer object: a port whose WebSocket handshakes are relayed
 * to one backend (`ws://` or `wss://`), as Easegress's WebSocketServer.
 *
 * @module
 */

import { type SpecReader, urlWithProtocol } from "../../filters/spec.ts";
import { keyPairProblems } from "../../filters/pem.ts";

/** A normalized WebSocketServer spec. */
export interface WebSocketServerSpec {
  name: string;
  kind: "WebSocketServer";
  port: number;
  /** Whether clients connect over TLS (with certBase64/keyBase64). */
  https: boolean;
  /** The backend's base URL, `ws://` or `wss://`; the request's path and query follow its path. */
  backend: string;
  certBase64?: string;
  keyBase64?: string;
  /** A client certificate for a `wss://` backend that asks for one. */
  wssCertBase64?: string;
  wssKeyBase64?: string;
}

/** Reads a WebSocketServer spec at `r` (name and kind already read). */
export function readWebSocketServerSpec(r: SpecReader, name: string): WebSocketServerSpec {
  const spec: WebSocketServerSpec = {
    name,
    kind: "WebSocketServer",
    port: r.int("port", { required: true, min: 1, max: 65535 }) ?? 0,
    https: r.bool("https", false),
    backend: r.string("backend", { required: true }) ?? "",
  };
  // An empty backend is no URL either (only a missing one is reported as required alone): the
  // relay could not be made, and the data plane would fail with it.
  if (typeof r.raw.backend === "string" && !isBackendUrl(spec.backend)) {
    r.problem(
      "backend",
      `must be a ws:// or wss:// URL such as ws://127.0.0.1:3001, got "${spec.backend}"`,
    );
  }
  for (const field of ["certBase64", "keyBase64", "wssCertBase64", "wssKeyBase64"] as const) {
    const value = r.string(field);
    // Easegress writes the unused ones as empty values.
    if (value) spec[field] = value;
  }
  const pairs = [["certBase64", "keyBase64"], ["wssCertBase64", "wssKeyBase64"]] as const;
  for (const [certField, keyField] of pairs) {
    const found = keyPairProblems(certField, spec[certField], keyField, spec[keyField]);
    for (const [field, problem] of found) r.problem(field, problem);
  }
  if (spec.https && (!spec.certBase64 || !spec.keyBase64)) {
    r.problem(spec.certBase64 ? "keyBase64" : "certBase64", "is required with https: true");
  }
  if (!!spec.wssCertBase64 !== !!spec.wssKeyBase64) {
    r.problem(
      spec.wssCertBase64 ? "wssKeyBase64" : "wssCertBase64",
      "is required with the other one",
    );
  }
  return spec;
}

function isBackendUrl(text: string): boolean {
  const url = urlWithProtocol(text, ["ws:", "wss:"]);
  return url !== undefined && url.search === "" && url.hash === "";
}
