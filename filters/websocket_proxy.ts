/**
 * The WebSocketProxy filter: a WebSocket handshake that reached its
 * pipeline (over HTTP/1.1, through an HTTPServer) is relayed to a server of
 * the first pool whose `filter` takes it (else the main pool), picked by
 * the pool's load balancing; the client's connection then belongs to the
 * relay (see ConnectionUpgrade), bytes flowing both ways until either side
 * closes. Filters before it still apply: one that answers keeps the
 * handshake from the backend.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import { ConnectionUpgrade } from "./connection_upgrade.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "./filter.ts";
import { hostOfAddr } from "./ip_address.ts";
import { SpecReader } from "./spec.ts";
import {
  createPicker,
  localTurns,
  type Picker,
  sharedTurns,
  type TurnCounter,
} from "./proxy/load_balancer.ts";
import { createRequestMatcher, type RequestMatcher } from "./proxy/request_matcher.ts";
import {
  type LoadBalanceSpec,
  readLoadBalance,
  readRequestMatcher,
  readServerSpec,
  type RequestMatcherSpec,
  sendsClientHost,
} from "./proxy/spec.ts";
import type { Http1Connection } from "./proxy/http1_connection.ts";
import {
  type Handshake,
  handshaken,
  handshakeProblem,
  relayHandshake,
  type RelayTarget,
} from "../server/websocket/relay.ts";
import { closeQuietly } from "../server/httpserver/served_connection.ts";

/** One WebSocket server of a pool. */
export interface WebSocketServerSpec {
  /** ws://, wss://, or http:// and https:// (taken as ws:// and wss://). */
  url: string;
  tags?: string[];
  weight?: number;
  /** Send the client's Host (as for a server whose URL host is an IP address). */
  keepHost?: boolean;
}

/** A pool of WebSocket servers. */
export interface WebSocketPoolSpec {
  servers: WebSocketServerSpec[];
  /** Only the servers with one of these tags, when set. */
  serverTags?: string[];
  loadBalance: LoadBalanceSpec;
  filter?: RequestMatcherSpec;
  /** Largest message from the client, in bytes; -1 for no limit. */
  clientMaxMsgSize: number;
  /** Largest message from the server, in bytes; -1 for no limit. */
  serverMaxMsgSize: number;
  /** Easegress's Origin checks: taken, not applied (see README). */
  insecureSkipVerify?: boolean;
  originPatterns?: string[];
}

/** A normalized WebSocketProxy spec. */
export interface WebSocketProxySpec {
  /** The Origin sent to the server for a client that sent none. */
  defaultOrigin?: string;
  pools: WebSocketPoolSpec[];
}

/** Easegress's default message limit (32 KiB and a byte). */
const DEFAULT_MAX_MSG_SIZE = 32769;
const SERVER_URL = /^(wss?|https?):\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\s]+)(:\d{1,5})?(\/[^?#\s]*)?$/;

function readServer(r: SpecReader): WebSocketServerSpec {
  return readServerSpec(
    r,
    SERVER_URL,
    "a ws://, wss://, http:// or https:// URL such as ws://127.0.0.1:9095",
  );
}

function readPool(r: SpecReader): WebSocketPoolSpec {
  const servers = r.array("servers", readServer, { required: true, minItems: 1 }) ?? [];
  const weighted = servers.filter((s) => s.weight !== undefined).length;
  if (weighted && weighted !== servers.length) {
    r.problem("servers", "weights must be set on every server or on none");
  }
  for (const field of ["serviceRegistry", "serviceName"]) {
    if (r.has(field)) r.problem(field, "is not supported by WebSocketProxy: list the servers");
  }
  const loadBalance = r.object("loadBalance", (lr) => {
    const spec = readLoadBalance(lr);
    for (const field of ["stickySession", "healthCheck"] as const) {
      if (spec[field]) lr.problem(field, "is not supported by WebSocketProxy");
    }
    return spec;
  }) ?? { policy: "roundRobin" };
  const pool: WebSocketPoolSpec = {
    servers,
    loadBalance,
    clientMaxMsgSize: readMaxMsgSize(r, "clientMaxMsgSize"),
    serverMaxMsgSize: readMaxMsgSize(r, "serverMaxMsgSize"),
  };
  const serverTags = r.stringArray("serverTags");
  if (serverTags?.length) {
    pool.serverTags = serverTags;
    if (!servers.some((s) => s.tags?.some((t) => serverTags.includes(t)))) {
      r.problem("serverTags", "no server has any of these tags");
    }
  }
  const filter = r.object("filter", readRequestMatcher);
  if (filter) pool.filter = filter;
  if (r.bool("insecureSkipVerify", false)) pool.insecureSkipVerify = true;
  const origins = r.stringArray("originPatterns");
  if (origins?.length) pool.originPatterns = origins;
  return pool;
}

/** A message size limit: 0 (Easegress's unset) means the default, -1 no limit. */
function readMaxMsgSize(r: SpecReader, field: string): number {
  const value = r.int(field, { default: DEFAULT_MAX_MSG_SIZE, min: -1 });
  return value === 0 ? DEFAULT_MAX_MSG_SIZE : value;
}

function validate(raw: Record<string, unknown>): WebSocketProxySpec {
  const r = SpecReader.root(raw);
  const spec: WebSocketProxySpec = {
    pools: r.array("pools", readPool, { required: true, minItems: 1 }) ?? [],
  };
  const origin = r.string("defaultOrigin");
  if (origin) {
    // An Origin is a serialized origin (RFC 6454): scheme, host and port, as a URL's start.
    if (!URL.canParse(origin) || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+/i.test(origin)) {
      r.problem("defaultOrigin", `must be a URL such as http://127.0.0.1, got "${origin}"`);
    }
    spec.defaultOrigin = origin;
  }
  const mains = spec.pools.filter((p) => !p.filter).length;
  if (spec.pools.length && mains !== 1) {
    r.problem(
      "pools",
      `must have exactly one pool without a filter (the main pool), found ${mains}`,
    );
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

/** The WebSocketProxy filter kind. */
export const webSocketProxyKind: FilterKind<WebSocketProxySpec> = {
  kind: "WebSocketProxy",
  description: "WebSocketProxy relays WebSocket handshakes, then their connections, to servers.",
  results: ["clientError", "internalError"],
  validate,
  create(spec, env, previous) {
    return new WebSocketProxy(spec, env, previous instanceof WebSocketProxy ? previous : undefined);
  },
};

/** One server, ready to connect to. */
interface Target {
  readonly url: URL;
  readonly secure: boolean;
  readonly hostname: string;
  readonly port: number;
  /** Whether the server gets the client's Host rather than its own. */
  readonly clientHost: boolean;
}

/** A pool compiled. */
interface Pool {
  readonly matches: RequestMatcher | undefined;
  readonly targets: readonly Target[];
  readonly pick: Picker;
  readonly turns: TurnCounter;
  /** The message limits, or undefined when there are none (frames are then not looked at). */
  readonly limits: RelayTarget["limits"];
}

/** Sockets of open relays, shared by the instances a pipeline update makes. */
class Relays {
  readonly sockets = new Set<{ close(): void }>();
  open = 0;
  served = 0;
}

/** A running WebSocketProxy filter. */
export class WebSocketProxy implements FilterInstance {
  readonly #pools: Pool[];
  readonly #main: Pool;
  readonly #candidates: Pool[];
  readonly #defaultOrigin: string | undefined;
  readonly #log: FilterEnv["log"];
  /** Kept by the next instance of a pipeline update: relays outlive it. */
  readonly #relays: Relays;
  #handedOn = false;

  constructor(spec: WebSocketProxySpec, env: FilterEnv, previous?: WebSocketProxy) {
    this.#log = env.log;
    this.#defaultOrigin = spec.defaultOrigin;
    this.#pools = spec.pools.map((p, i) => compilePool(p, env, i));
    this.#main = this.#pools.find((p) => p.matches === undefined)!;
    this.#candidates = this.#pools.filter((p) => p.matches !== undefined);
    if (previous !== undefined) previous.#handedOn = true;
    this.#relays = previous === undefined ? new Relays() : previous.#relays;
  }

  handle(ctx: Context): string {
    const request = ctx.request;
    if (request.proto !== "HTTP/1.1") {
      // HTTP/2 and HTTP/3 have no Upgrade; HTTP/1.0 clients speak no WebSocket.
      return refuse(ctx, 400, `a WebSocket handshake needs HTTP/1.1, not ${request.proto}`, "");
    }
    const headers = request.headers;
    const problem = handshakeProblem(request.method, headers);
    if (problem !== null) return refuse(ctx, problem.status, problem.message, problem.fields);
    // Bytes after the head are the client's first frames: a body would be taken for them.
    const length = headers.get("content-length");
    if (headers.has("transfer-encoding") || (length !== null && length !== "0")) {
      return refuse(ctx, 400, "a WebSocket handshake has no body", "");
    }
    let pool = this.#main;
    for (const candidate of this.#candidates) {
      if (candidate.matches!(ctx)) {
        pool = candidate;
        break;
      }
    }
    const count = pool.targets.length;
    if (count === 0) return refuse(ctx, 503, "no available server", "", "internalError");
    const target = pool.targets[count === 1 ? 0 : pool.pick(ctx, count)];
    if (this.#defaultOrigin !== undefined && !headers.has("origin")) {
      headers.set("origin", this.#defaultOrigin);
    }
    const handshake: Handshake = {
      path: request.path,
      query: request.query,
      host: ctx.clientHost,
      headers,
      clientIP: hostOfAddr(ctx.remoteAddr),
    };
    const relayTarget: RelayTarget = {
      backend: target.url,
      host: target.clientHost && ctx.clientHost ? ctx.clientHost : undefined,
      scheme: request.scheme,
      limits: pool.limits,
      connect: () =>
        target.secure
          ? handshaken(Deno.connectTls({ hostname: target.hostname, port: target.port }))
          : Deno.connect({ hostname: target.hostname, port: target.port }),
    };
    ctx.response = new ConnectionUpgrade((client) => this.#relay(client, handshake, relayTarget));
    return "";
  }

  /** The status document of `object status get`: relays open and served. */
  status(): Record<string, unknown> {
    return { connections: this.#relays.open, connectionsServed: this.#relays.served };
  }

  /** Closes the open relays, unless a pipeline update took them over. */
  close(): void {
    for (const pool of this.#pools) pool.turns.close();
    if (this.#handedOn) return;
    for (const socket of this.#relays.sockets) closeQuietly(socket);
    this.#relays.sockets.clear();
  }

  async #relay(client: Http1Connection, handshake: Handshake, target: RelayTarget) {
    const relays = this.#relays;
    const socket = client.socket;
    let backend: Deno.Conn | undefined;
    relays.sockets.add(socket);
    relays.open++;
    relays.served++;
    try {
      await relayHandshake(client, handshake, target, (opened) => {
        backend = opened;
        relays.sockets.add(opened);
      });
    } catch (e) {
      this.#log.warn(`relay to ${target.backend.href}: ${(e as Error).message}`);
    } finally {
      relays.open--;
      relays.sockets.delete(socket);
      closeQuietly(socket);
      if (backend !== undefined) {
        relays.sockets.delete(backend);
        closeQuietly(backend);
      }
    }
  }
}

/** Answers `status` with `message`, as the relay answers what it refuses; returns `result`. */
function refuse(
  ctx: Context,
  status: number,
  message: string,
  fields: string,
  result = "clientError",
): string {
  const response = new HttpResponse(
    status,
    { "content-type": "text/plain; charset=utf-8" },
    `${message}\n`,
  );
  if (fields) {
    for (const line of fields.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) response.headers.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
  }
  ctx.response = response;
  return result;
}

function compilePool(spec: WebSocketPoolSpec, env: FilterEnv, index: number): Pool {
  const tags = spec.serverTags;
  const servers = tags === undefined
    ? spec.servers
    : spec.servers.filter((s) => s.tags?.some((t) => tags.includes(t)));
  const targets = servers.map((s): Target => {
    const url = new URL(s.url);
    const secure = url.protocol === "wss:" || url.protocol === "https:";
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return {
      url,
      secure,
      hostname,
      port: Number(url.port || (secure ? 443 : 80)),
      // As Easegress: the client's Host unless the URL names a host by name.
      clientHost: sendsClientHost(s, url.hostname),
    };
  });
  // One round node-wide, as the Proxy's: named by the pool, so an update that keeps it keeps its place.
  const turns = spec.loadBalance.policy === "roundRobin" && env.sharedSlots
    ? sharedTurns(
      env.sharedSlots,
      `wsroundrobin/${env.pipeline}/${env.name}/${index}/${JSON.stringify(spec.servers)}`,
    )
    : localTurns();
  return {
    matches: spec.filter && createRequestMatcher(spec.filter),
    targets,
    pick: createPicker(spec.loadBalance, servers.map((s) => s.weight ?? 0), turns),
    turns,
    limits: spec.clientMaxMsgSize < 0 && spec.serverMaxMsgSize < 0
      ? undefined
      : { client: spec.clientMaxMsgSize, server: spec.serverMaxMsgSize },
  };
}
