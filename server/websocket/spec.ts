/**
 * The WebSocketServer object: a port whose WebSocket handshakes are relayed
 * to one backend (`ws://` or `wss://`), as Easegress's WebSocketServer.
 *
 * @module
 */

import { type SpecReader, urlWithProtocol } from "../../filters/spec.ts";
import { pemProblem } from "../httpserver/pem.ts";

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
  if (spec.backend !== "" && !isBackendUrl(spec.backend)) {
    r.problem(
      "backend",
      `must be a ws:// or wss:// URL such as ws://127.0.0.1:3001, got "${spec.backend}"`,
    );
  }
  const pems: [keyof WebSocketServerSpec & string, "certificate" | "key"][] = [
    ["certBase64", "certificate"],
    ["keyBase64", "key"],
    ["wssCertBase64", "certificate"],
    ["wssKeyBase64", "key"],
  ];
  for (const [field, kind] of pems) {
    const value = r.string(field);
    // Easegress writes the unused ones as empty values.
    if (!value) continue;
    const problem = pemProblem(value, kind);
    if (problem !== undefined) r.problem(field, problem);
    (spec as unknown as Record<string, string>)[field] = value;
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
