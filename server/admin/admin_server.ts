/**
 * The listener of the admin API, secured as Easegress v2.1 and later secure
 * theirs: HTTPS with `--tls` (`--cert-file`, `--key-file`), client
 * certificates from `client-ca-file` required, and HTTP basic auth for the
 * users of `basic-auth`.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { startSniListener } from "../httpserver/sni_listener.ts";
import { errorText } from "../error_text.ts";
import { joinHostPort } from "../../filters/ip_address.ts";

/** How the admin API is reached and who may call it. */
export interface AdminServerOptions {
  hostname: string;
  port: number;
  /** HTTPS: the certificate chain and key (PEM), and the CA client certificates must chain to. */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Users and their passwords; empty: no authentication. */
  basicAuth: Readonly<Record<string, string>>;
}

/** A request to the admin API, with the client's `host:port`. */
export type AdminHandler = (req: Request, remoteAddr: string) => Response | Promise<Response>;

/** The running listener. */
export interface AdminServer {
  /** The port it listens on (the one asked for, or the one given for port 0). */
  readonly port: number;
  /** Stops accepting and waits for the requests in flight. */
  shutdown(): Promise<void>;
}

/** Reads the PEM files the options name, naming the option of one that cannot be read. */
export async function readAdminTls(
  files: { certFile: string; keyFile: string; clientCaFile: string },
): Promise<{ cert: string; key: string; clientCa?: string }> {
  const read = async (path: string, option: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      throw new Error(`${option}: cannot read ${path}: ${errorText(e)}`);
    }
  };
  return {
    cert: await read(files.certFile, "--cert-file"),
    key: await read(files.keyFile, "--key-file"),
    ...(files.clientCaFile ? { clientCa: await read(files.clientCaFile, "--client-ca-file") } : {}),
  };
}

/** Starts the admin API's listener; throws when it cannot listen. */
export async function startAdminServer(
  options: AdminServerOptions,
  handle: AdminHandler,
): Promise<AdminServer> {
  const guarded = Object.keys(options.basicAuth).length > 0
    ? withBasicAuth(options.basicAuth, handle)
    : handle;
  const { hostname, port, tls } = options;
  if (tls?.clientCa) {
    // The runtime's HTTPS server cannot ask for client certificates; node's can.
    const listener = await startSniListener(
      port,
      hostname,
      [{ name: "admin", cert: tls.cert, key: tls.key }],
      (req, peer) => guarded(req, peerText(peer())),
      {},
      tls.clientCa,
    );
    return { port: listener.port, shutdown: () => listener.shutdown(30_000) };
  }
  const server = Deno.serve(
    { hostname, port, onListen() {}, ...(tls ? { cert: tls.cert, key: tls.key } : {}) },
    (req, info) => guarded(req, peerText(info.remoteAddr as Deno.NetAddr)),
  );
  return { port: (server.addr as Deno.NetAddr).port, shutdown: () => server.shutdown() };
}

function peerText(peer: Deno.NetAddr): string {
  return joinHostPort(peer.hostname, peer.port);
}

const encoder = new TextEncoder();

/** `handle` behind HTTP basic auth for `users`: others get 401 and the challenge. */
function withBasicAuth(
  users: Readonly<Record<string, string>>,
  handle: AdminHandler,
): AdminHandler {
  const accepted = Object.entries(users).map(([user, password]) =>
    encoder.encode(`${user}:${password}`)
  );
  return (req, remoteAddr) => {
    const given = credentials(req.headers.get("authorization"));
    // Compared with each, in constant time, so the time taken tells nothing of a password.
    let allowed = false;
    for (const pair of accepted) {
      if (given !== undefined && given.length === pair.length && timingSafeEqual(given, pair)) {
        allowed = true;
      }
    }
    if (allowed) return handle(req, remoteAddr);
    return new Response(JSON.stringify({ code: 401, message: "unauthorized" }), {
      status: 401,
      headers: {
        "content-type": "application/json",
        "www-authenticate": 'Basic realm="easegress"',
      },
    });
  };
}

/** The `user:password` bytes of a Basic authorization, or undefined. */
function credentials(header: string | null): Uint8Array | undefined {
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match) return undefined;
  try {
    return Uint8Array.fromBase64(match[1]);
  } catch {
    return undefined;
  }
}
