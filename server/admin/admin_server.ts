/**
 * The listener of the admin API, secured as Easegress v2.1 and later secure
 * theirs: HTTPS with `--tls` (`--cert-file`, `--key-file`), client
 * certificates from `client-ca-file` required (basic auth is the handler's,
 * see basic_auth.ts, so refusals are answered and logged like other requests).
 *
 * @module
 */

import { startSniListener } from "../httpserver/sni_listener.ts";
import { errorText } from "../error_text.ts";
import { keyPairProblems, pemProblem } from "../../filters/pem.ts";
import { joinHostPort } from "../../filters/ip_address.ts";

/** How the admin API is reached and who may call it. */
export interface AdminServerOptions {
  hostname: string;
  port: number;
  /** HTTPS: the certificate chain and key (PEM), and the CA client certificates must chain to. */
  tls?: { cert: string; key: string; clientCa?: string };
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

/**
 * Reads the PEM files the options name, naming the option of one that
 * cannot be read or holds no usable certificate or key: a client CA file
 * without a certificate would start a node whose admin API no client can
 * reach.
 */
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
  const cert = await read(files.certFile, "--cert-file");
  const key = await read(files.keyFile, "--key-file");
  const clientCa = files.clientCaFile
    ? await read(files.clientCaFile, "--client-ca-file")
    : undefined;
  const paths: Record<string, string> = {
    "--cert-file": files.certFile,
    "--key-file": files.keyFile,
    "--client-ca-file": files.clientCaFile,
  };
  const problems = keyPairProblems("--cert-file", cert, "--key-file", key);
  const caProblem = clientCa === undefined ? undefined : pemProblem(clientCa, "certificate");
  if (caProblem !== undefined) problems.push(["--client-ca-file", caProblem]);
  if (problems.length > 0) {
    throw new Error(
      problems.map(([option, problem]) => `${option}: ${paths[option]} ${problem}`).join("; "),
    );
  }
  return { cert, key, ...(clientCa === undefined ? {} : { clientCa }) };
}

/** Starts the admin API's listener; throws when it cannot listen. */
export async function startAdminServer(
  options: AdminServerOptions,
  handle: AdminHandler,
): Promise<AdminServer> {
  const { hostname, port, tls } = options;
  if (tls?.clientCa) {
    // The runtime's HTTPS server cannot ask for client certificates; node's can.
    const listener = await startSniListener(
      port,
      hostname,
      [{ name: "admin", cert: tls.cert, key: tls.key }],
      (req, peer) => handle(req, peerText(peer())),
      {},
      tls.clientCa,
    );
    return { port: listener.port, shutdown: () => listener.shutdown(30_000) };
  }
  const server = Deno.serve(
    { hostname, port, onListen() {}, ...(tls ? { cert: tls.cert, key: tls.key } : {}) },
    (req, info) => handle(req, peerText(info.remoteAddr as Deno.NetAddr)),
  );
  return { port: (server.addr as Deno.NetAddr).port, shutdown: () => server.shutdown() };
}

function peerText(peer: Deno.NetAddr): string {
  return joinHostPort(peer.hostname, peer.port);
}
