/**
 * `~/.egctlrc`, as egctl of Easegress v2.1 and later reads it: the current
 * context names a cluster (the admin API's `server`, the CA that signed its
 * certificate) and a user (basic auth `username`/`password`, a client
 * certificate and key), each given as a file or as base64 `-data`.
 *
 * ```yaml
 * kind: Config
 * current-context: context-default
 * contexts:
 *   - name: context-default
 *     context: { cluster: cluster-default, user: user-default }
 * clusters:
 *   - name: cluster-default
 *     cluster: { server: localhost:2381, certificate-authority: /tmp/certs/ca.crt }
 * users:
 *   - name: user-default
 *     user: { username: admin, password: secret }
 * ```
 *
 * @module
 */

import { readOneDocument } from "../filters/yaml_module.ts";
import { spellingOf } from "../filters/yaml_plain_scalars.ts";
import { CtlError, fileErrorReason } from "./errors.ts";
import { pemProblem } from "../filters/pem.ts";

/** How to reach and sign in to the admin API. */
export interface AdminConnection {
  /** `host:port` or a URL. */
  readonly server?: string;
  /** PEM of the CA that signed the admin API's certificate. */
  readonly caCert?: string;
  /** PEM of the client certificate and its key, for a node with `client-ca-file`. */
  readonly cert?: string;
  readonly key?: string;
  /** Basic auth, for a node with `basic-auth`. */
  readonly username?: string;
  readonly password?: string;
}

/** Where egctl looks for its config. */
export function defaultEgctlConfigPath(): string | undefined {
  const home = Deno.env.get("HOME");
  return home ? `${home}/.egctlrc` : undefined;
}

type Doc = Record<string, unknown>;

/** The connection the config at `path` gives; empty when there is no file. */
export async function readEgctlConfig(path: string | undefined): Promise<AdminConnection> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new CtlError(`cannot read ${path}: ${fileErrorReason(e)}`);
  }
  const problem = (what: string) => new CtlError(`${path}: ${what}`);
  const read = await readOneDocument(text);
  if ("problem" in read) throw problem(read.problem.split("\n")[0]);
  const doc = read.value;
  if (doc === null || doc === undefined) return {};
  if (!isMap(doc)) throw problem("must be a map");
  const contextName = doc["current-context"];
  if (contextName === undefined) return {};
  const context = named(doc.contexts, contextName, "context", problem);
  const cluster = context.cluster === undefined
    ? {}
    : named(doc.clusters, context.cluster, "cluster", problem);
  const user = context.user === undefined ? {} : named(doc.users, context.user, "user", problem);
  const text_ = (from: Doc, field: string) => {
    const value = from[field];
    if (value === undefined || value === null || value === "") return undefined;
    // An unquoted `password: 0123` as written, as egctl's Go YAML reads it into a string.
    if (typeof value === "number" || typeof value === "boolean") {
      return spellingOf(from, field) ?? String(value);
    }
    if (typeof value !== "string") throw problem(`${field} must be a string`);
    return value;
  };
  const pem = async (
    fileField: string,
    dataField: string,
    from: Doc,
    kind: "certificate" | "key",
  ) => {
    let read: string | undefined;
    let source: string;
    const data = text_(from, dataField);
    if (data !== undefined) {
      source = dataField;
      try {
        read = new TextDecoder().decode(Uint8Array.fromBase64(data.replace(/\s+/g, "")));
      } catch {
        throw problem(`${dataField} is not base64`);
      }
    } else {
      const file = text_(from, fileField);
      if (file === undefined) return undefined;
      source = `${fileField}: ${file}`;
      try {
        read = await Deno.readTextFile(file);
      } catch (e) {
        throw problem(`${fileField}: cannot read ${file}: ${fileErrorReason(e)}`);
      }
    }
    // Checked here: the TLS library would skip it silently, and the node's answer mislead.
    const wrong = pemProblem(read, kind);
    if (wrong !== undefined) throw problem(`${source} ${wrong}`);
    return read;
  };
  const cert = await pem("client-certificate", "client-certificate-data", user, "certificate");
  const key = await pem("client-key", "client-key-data", user, "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw problem("client-certificate and client-key go together: give both or neither");
  }
  return {
    server: text_(cluster, "server"),
    caCert: await pem(
      "certificate-authority",
      "certificate-authority-data",
      cluster,
      "certificate",
    ),
    cert,
    key,
    username: text_(user, "username"),
    password: text_(user, "password"),
  };
}

/** The `what` (a context, cluster or user) named `name` in the list `entries`, inner map. */
function named(
  entries: unknown,
  name: unknown,
  what: string,
  problem: (what: string) => CtlError,
): Doc {
  const found = Array.isArray(entries)
    ? entries.find((entry) => isMap(entry) && entry.name === name)
    : undefined;
  if (!found) throw problem(`no ${what} named ${JSON.stringify(name)}`);
  const inner = (found as Doc)[what];
  return isMap(inner) ? inner : {};
}

function isMap(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `base` sending each request as `connection` says: with its basic auth,
 * over a client trusting its CA and presenting its certificate.
 */
export function connectionFetch(connection: AdminConnection, base: typeof fetch): typeof fetch {
  const tls = connection.caCert !== undefined || connection.cert !== undefined;
  const client = tls
    ? Deno.createHttpClient({
      ...(connection.caCert ? { caCerts: [connection.caCert] } : {}),
      ...(connection.cert && connection.key ? { cert: connection.cert, key: connection.key } : {}),
    })
    : undefined;
  const authorization = connection.username === undefined
    ? undefined
    : `Basic ${
      new TextEncoder().encode(`${connection.username}:${connection.password ?? ""}`).toBase64()
    }`;
  if (!client && !authorization) return base;
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (authorization) headers.set("authorization", authorization);
    return base(input, { ...init, headers, ...(client ? { client } : {}) } as RequestInit);
  };
}

/** Whether a `server` without a scheme is reached over HTTPS: when TLS material is given. */
export function usesTls(connection: AdminConnection): boolean {
  return connection.caCert !== undefined || connection.cert !== undefined;
}
