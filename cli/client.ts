/**
 * A small client for a node's admin API: where it lives, how a request is
 * sent, and how failures (HTTP errors, unreachable node) become messages.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { CtlError, UsageError } from "./errors.ts";

/** Path prefix of the admin API on a node (the node also serves `/apis/v1`). */
export const ADMIN_API_PREFIX = "/apis/v2";

/** The admin API address used when `--server` is not given. */
export const DEFAULT_SERVER = "localhost:2381";

/** How response bodies are printed: as received (YAML) or as pretty JSON. */
export type OutputFormat = "yaml" | "json";

/** One request to the admin API. */
export interface AdminRequest {
  /** HTTP method. */
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path below {@linkcode ADMIN_API_PREFIX}, starting with `/` (or `""` for the API list). */
  readonly path: string;
  /** A value sent as a JSON body (the admin API reads YAML, and JSON is YAML). */
  readonly json?: unknown;
  /** A YAML document sent as written, as egctl sends what it reads (instead of `json`). */
  readonly yaml?: string;
}

/** What the admin API answered; the body is always read completely. */
export interface AdminReply {
  /** HTTP status code. */
  readonly status: number;
  /** HTTP reason phrase (may be empty). */
  readonly statusText: string;
  /** The response body as text. */
  readonly body: string;
}

/** Options for {@linkcode AdminClient}. */
export interface AdminClientOptions {
  /** The fetch used to send requests (tests inject one). @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** `json` asks the node for JSON bodies with `Accept: application/json`. @default {"yaml"} */
  format?: OutputFormat;
}

/** A non-2xx answer, reported as `Error: <code>: <message>`. */
export class AdminApiError extends CtlError {
  /** HTTP status of the reply. */
  readonly status: number;
  /** The `code` from the error body, or the HTTP status when the body has none. */
  readonly code: number | string;
  /** The `message` from the error body, or the best text available. */
  readonly reason: string;

  constructor(reply: AdminReply) {
    const { code, reason } = describeFailure(reply);
    super(`${code}: ${reason}`);
    this.name = "AdminApiError";
    this.status = reply.status;
    this.code = code;
    this.reason = reason;
  }
}

/** Sends requests to one node's admin API. */
export class AdminClient {
  /** Scheme, host and port of the node, e.g. `http://localhost:2381`. */
  readonly origin: string;
  #fetch: typeof fetch;
  #accept: string | undefined;

  constructor(origin: string, options: AdminClientOptions = {}) {
    const { fetch: fetchFn = globalThis.fetch, format = "yaml" } = options;
    this.origin = origin;
    this.#fetch = fetchFn;
    this.#accept = format === "json" ? "application/json" : undefined;
  }

  /**
   * Sends `request` and returns the reply whatever its status.
   * Throws {@linkcode CtlError} when the node cannot be reached.
   */
  async send(request: AdminRequest): Promise<AdminReply> {
    try {
      const response = await this.#respond(request);
      return {
        status: response.status,
        statusText: response.statusText,
        body: await response.text(),
      };
    } catch (error) {
      throw this.#unreachable(error);
    }
  }

  /**
   * GETs `path` and hands its body to `print` as it arrives, until the node
   * ends it (a followed log). Throws as {@linkcode call} does.
   */
  async stream(path: string, print: (text: string) => void): Promise<void> {
    try {
      const response = await this.#respond({ method: "GET", path });
      if (!response.ok) {
        const { status, statusText } = response;
        ensureOk({ status, statusText, body: await response.text() });
      }
      const decoder = new TextDecoder();
      for await (const chunk of response.body ?? []) print(decoder.decode(chunk, { stream: true }));
    } catch (error) {
      throw error instanceof CtlError ? error : this.#unreachable(error);
    }
  }

  #respond(request: AdminRequest): Promise<Response> {
    const headers = new Headers();
    if (this.#accept) headers.set("accept", this.#accept);
    let body: string | undefined;
    if (request.yaml !== undefined) {
      body = request.yaml;
      headers.set("content-type", "application/yaml");
    } else if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers.set("content-type", "application/json");
    }
    const url = this.origin + ADMIN_API_PREFIX + request.path;
    // Called through a local so the injected fetch never sees this client as `this`.
    const fetchFn = this.#fetch;
    return fetchFn(url, { method: request.method, headers, body });
  }

  #unreachable(error: unknown): CtlError {
    const reason = networkReason(error);
    return new CtlError(
      `cannot reach the admin API at ${this.origin}: ${reason}${dropHint(this.origin, reason)}`,
    );
  }

  /** GETs `path` and returns its body as data (JSON or YAML); throws as {@linkcode call} does. */
  async getData(path: string): Promise<unknown> {
    return parseStructured((await this.call({ method: "GET", path })).body);
  }

  /** Sends `request` and returns the reply; throws {@linkcode AdminApiError} unless it is 2xx. */
  async call(request: AdminRequest): Promise<AdminReply> {
    return ensureOk(await this.send(request));
  }
}

/** Returns `reply` when it is 2xx; throws {@linkcode AdminApiError} otherwise. */
export function ensureOk(reply: AdminReply): AdminReply {
  if (reply.status < 200 || reply.status > 299) throw new AdminApiError(reply);
  return reply;
}

/**
 * Turns a `--server` value (`host:port`, optionally with `http://` or
 * `https://`) into an origin such as `http://localhost:2381`, `scheme`
 * when it names none. Throws {@linkcode UsageError} for anything else,
 * naming the value as given and `what` gave it.
 */
export function normalizeServer(
  server: string,
  scheme: "http" | "https" = "http",
  what = "--server",
): string {
  const trimmed = server.trim();
  if (trimmed === "") throw new UsageError(`${what} must not be empty`);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `${scheme}://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${what} "${server}" is not a valid HOST:PORT address`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${what} "${server}" must use http:// or https://`);
  }
  if (url.username || url.password || url.pathname !== "/" || url.search || url.hash) {
    throw new UsageError(
      `${what} "${server}" must be only a HOST:PORT address, without path, query or credentials`,
    );
  }
  return url.origin;
}

/** The `code` and `message` to show for a failed reply, with fallbacks for non-standard bodies. */
function describeFailure(reply: AdminReply): { code: number | string; reason: string } {
  const body = parseStructured(reply.body);
  let code: number | string = reply.status;
  let reason = "";
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    if (typeof fields.code === "number" || typeof fields.code === "string") code = fields.code;
    if (typeof fields.message === "string") reason = fields.message;
  }
  if (reason === "") reason = reply.statusText;
  if (reason === "") reason = firstLine(reply.body);
  if (reason === "") reason = "request failed";
  return { code, reason };
}

/** Parses a body that is JSON or YAML; `undefined` when it is neither. */
export function parseStructured(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parseYaml(text);
    } catch {
      return undefined;
    }
  }
}

/** The first non-empty line of `text`, cut to a readable length. */
function firstLine(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * Plain HTTP to a node serving HTTPS, as the runtime reports it: a dropped
 * connection, or the TLS alert the node sends back read as a response.
 */
const PLAIN_TO_TLS = new Set([
  "connection closed before message completed",
  "invalid HTTP version parsed",
]);

/**
 * What may have made the node drop the connection unanswered, which the
 * runtime reports only as a closed connection or a garbled answer: plain
 * HTTP to a node serving HTTPS (Go's server would answer 400 saying so), or
 * no client certificate for a node that requires one (its alert does not
 * always arrive first).
 */
function dropHint(origin: string, reason: string): string {
  if (origin.startsWith("http:") && PLAIN_TO_TLS.has(reason)) {
    return ` (if it is served over HTTPS: --server ${origin.replace(/^http:/, "https:")})`;
  }
  if (
    origin.startsWith("https:") && /^connection closed|broken pipe|CertificateRequired/.test(reason)
  ) {
    return " (if it requires a client certificate: client-certificate and client-key in ~/.egctlrc)";
  }
  return "";
}

/**
 * The useful part of a fetch failure. Deno's messages read like
 * `error sending request for url (...): client error (Connect): tcp connect
 * error: Connection refused (os error 111)`, or, once connected, `error
 * sending request from 127.0.0.1:33006 for http://... (host:port): client
 * error (SendRequest): connection closed before message completed`; the URL
 * is already in our message.
 */
function networkReason(error: unknown): string {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = inner instanceof Error ? inner.message : String(inner);
  return message
    .replace(/^error sending request (?:for url \([^)]*\)|from \S+ for \S+ \([^)]*\)): /, "")
    .replace(/^client error \([^)]*\): /, "");
}
