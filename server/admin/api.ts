/**
 * The admin REST API under `/apis/v2` (and `/apis/v1` for Easegress v2.0
 * clients): objects, statuses, members, kinds, filter metadata, custom
 * data, profiling and WasmHost data. YAML and
 * JSON in; YAML out, or JSON when the client accepts it; errors as
 * `{code, message}`.
 *
 * @module
 */

import { keys, parseStoredJson, type Store, StoreUnavailableError } from "../../cluster/store.ts";
import type { FilterRegistry } from "../../filters/filter.ts";
import { SpecError } from "../../filters/spec.ts";
import { type AdminRoute, ApiError, errorReply, readDocument, reply } from "./replies.ts";
import { CUSTOM_DATA_ROUTES } from "./custom_data.ts";
import { MQTT_ROUTES } from "./mqtt_routes.ts";
import { PROFILE_ROUTES } from "./profile_routes.ts";
import { LOG_ROUTES } from "./log_routes.ts";
import { WASM_ROUTES } from "./wasm_routes.ts";
import type { NodeProfiler } from "../profiling/node_profiler.ts";
import type { MqttAdminRequest } from "../mqtt/admin_ops.ts";
import type { MemberAccess } from "./member_access.ts";
import { canonicalKind, OBJECT_KINDS, readStoredObject, validateObject } from "../objects.ts";
import { VERSION } from "../version.ts";
import { bumpConfigVersion, readConfigVersion } from "./config_version.ts";
import { isDotSegment } from "../names.ts";
import { replaceStored } from "./key_turns.ts";
import { errorText } from "../error_text.ts";

/** What the admin API reads and changes. */
export interface AdminContext {
  store: Store;
  filters: FilterRegistry;
  /** This node's member name. */
  memberName: string;
  /** Live status of an object on this node, or undefined. */
  localStatus(name: string): Promise<Record<string, unknown> | undefined>;
  /** The member documents of the cluster. */
  members(): Promise<Record<string, unknown>[]>;
  /** Removes a member; false when unknown. */
  purgeMember(name: string): Promise<boolean>;
  /** Carries out an admin request on this node's MQTTProxy `name` (undefined: it runs none). */
  mqttAdmin(name: string, request: MqttAdminRequest): Promise<unknown>;
  /** How other members' admin APIs are called; plain HTTP by default. */
  memberAccess?: MemberAccess;
  /** Where what a request leaves undone without failing is reported. */
  log?: { warn(message: string): void };
  /** Profiles this node's isolates. */
  profiler: NodeProfiler;
  /** The node's log file, which `GET /logs` serves. */
  logFile: string;
  /** Aborts when the node stops (followed logs end then). */
  stopping: AbortSignal;
}

const PREFIXES = ["/apis/v2", "/apis/v1"];

const ROUTES: AdminRoute<AdminContext>[] = [
  { method: "GET", pattern: "", handler: listApis },
  { method: "GET", pattern: "/healthz", handler: () => new Response(null, { status: 200 }) },
  { method: "GET", pattern: "/about", handler: about },
  {
    method: "GET",
    pattern: "/object-kinds",
    handler: (req) => reply(req, [...OBJECT_KINDS].sort()),
  },
  { method: "POST", pattern: "/objects", handler: createObject },
  { method: "GET", pattern: "/objects", handler: listObjects },
  { method: "GET", pattern: "/objects/{name}", handler: getObject },
  { method: "PUT", pattern: "/objects/{name}", handler: updateObject },
  { method: "DELETE", pattern: "/objects/{name}", handler: deleteObject },
  { method: "GET", pattern: "/status/objects", handler: listStatuses },
  { method: "GET", pattern: "/status/objects/{name}", handler: getStatus },
  {
    method: "GET",
    pattern: "/status/members",
    handler: async (req, _p, c) => reply(req, await c.members()),
  },
  { method: "DELETE", pattern: "/status/members/{member}", handler: purgeMember },
  {
    method: "GET",
    pattern: "/metadata/objects/pipeline/filters",
    handler: (req, _p, c) => reply(req, c.filters.names()),
  },
  {
    method: "GET",
    pattern: "/metadata/objects/pipeline/filters/{kind}/results",
    handler: filterResults,
  },
  {
    method: "GET",
    pattern: "/metadata/objects/pipeline/filters/{kind}/description",
    handler: filterDescription,
  },
  {
    method: "GET",
    pattern: "/metadata/objects/pipeline/filters/{kind}/schema",
    handler: (_req, [kind], ctx) => {
      filterKindOf(ctx, kind);
      throw new ApiError(
        501,
        `no JSON schema for ${kind}: specs are checked by code, and a bad one is refused ` +
          "with every problem named; see GET .../description and .../results",
      );
    },
  },
  ...CUSTOM_DATA_ROUTES,
  ...MQTT_ROUTES,
  ...PROFILE_ROUTES,
  ...LOG_ROUTES,
  ...WASM_ROUTES,
];

/** Serves one admin request; every answer says the config version in `X-Config-Version`. */
export async function handleAdmin(req: Request, ctx: AdminContext): Promise<Response> {
  const response = await route(req, ctx);
  // The store just failed to answer: asking it for the version too would
  // hold the 503 back for another whole request timeout.
  if (storeDownReplies.has(response)) return response;
  const version = await configVersionWithin(ctx.store, VERSION_WAIT_MS);
  if (version !== undefined) response.headers.set("x-config-version", String(version));
  return response;
}

/**
 * How long an answer waits for the config version before going out without
 * it. An answer that needs no store (`/healthz`, `/object-kinds`) would
 * otherwise wait out a whole store request timeout (10 s) whenever etcd has
 * lost its quorum, failing the health checks of a node still serving traffic.
 */
const VERSION_WAIT_MS = 1_000;

/** The config version, or undefined when the store fails or takes longer than `ms`. */
async function configVersionWithin(store: Store, ms: number): Promise<number | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([readConfigVersion(store).catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Answers given because the store was unreachable. */
const storeDownReplies = new WeakSet<Response>();

async function route(req: Request, ctx: AdminContext): Promise<Response> {
  const url = new URL(req.url);
  let path = url.pathname.replace(/\/+$/, "");
  const prefix = PREFIXES.find((p) => path === p || path.startsWith(p + "/"));
  if (!prefix) return errorReply(req, new ApiError(404, `no API at ${url.pathname}`));
  path = path.slice(prefix.length);
  // The methods the path takes, for a 405's Allow (RFC 9110 requires it).
  const allowed: string[] = [];
  for (const route of ROUTES) {
    let params;
    try {
      params = matchPattern(route.pattern, path);
    } catch {
      return errorReply(req, new ApiError(400, `malformed percent-encoding in ${url.pathname}`));
    }
    if (!params) continue;
    if (route.method !== req.method) {
      allowed.push(route.method);
      continue;
    }
    try {
      return await route.handler(req, params, ctx);
    } catch (e) {
      const response = await errorReply(req, toApiError(e));
      if (e instanceof StoreUnavailableError) storeDownReplies.add(response);
      return response;
    }
  }
  if (allowed.length) {
    const response = await errorReply(
      req,
      new ApiError(405, `${req.method} not allowed on ${url.pathname}`),
    );
    response.headers.set("allow", allowed.join(", "));
    return response;
  }
  return errorReply(req, new ApiError(404, `no API at ${url.pathname}`));
}

function matchPattern(pattern: string, path: string): string[] | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith("{")) {
      if (!got[i]) return undefined;
      params.push(decodeURIComponent(got[i]));
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof SpecError) return new ApiError(400, e.message);
  if (e instanceof StoreUnavailableError) {
    return new ApiError(503, `the config store is unavailable: ${e.message}`);
  }
  return new ApiError(500, (e as Error)?.message ?? String(e));
}

function about(): Response {
  return new Response(
    `Easegress on Deno ${VERSION}: a traffic gateway that runs Easegress v2 configurations.\n` +
      `Runtime: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}.\n` +
      "Powered by open-source software: etcd (https://etcd.io), Apache License 2.0.\n",
    { headers: { "content-type": "text/plain; charset=utf-8" } },
  );
}

function listApis(req: Request): Promise<Response> {
  const entries = ROUTES.map((r) => ({
    path: r.pattern || "/",
    method: r.method,
  }));
  return reply(req, [{ group: "admin", entries }]);
}

/**
 * Raises the config version after an object change, which is made by then:
 * a failure here (the disk filling up, or etcd going away, between the two
 * writes) is logged, not answered. A 500 or 503 told the client its change
 * had failed, and a create sent again then met a 409.
 */
async function raiseConfigVersion(ctx: AdminContext, change: string): Promise<void> {
  try {
    await bumpConfigVersion(ctx.store);
  } catch (e) {
    ctx.log?.warn(`object ${change}, but the config version was not raised: ${errorText(e)}`);
  }
}

async function createObject(req: Request, _p: string[], ctx: AdminContext): Promise<Response> {
  const spec = validateObject(await readDocument(req), ctx.filters);
  // Refused here rather than in validation, so such objects already stored still load.
  if (isDotSegment(spec.name)) {
    throw new ApiError(400, `name: "${spec.name}" cannot be a name: no URL path can reach it`);
  }
  const written = await ctx.store.put(keys.object(spec.name), JSON.stringify(spec), {
    expectRevision: 0,
  });
  if (!written) throw new ApiError(409, `conflict name: ${spec.name} already exists`);
  await raiseConfigVersion(ctx, `${spec.name} created`);
  return new Response(null, {
    status: 201,
    headers: { location: `/apis/v2/objects/${spec.name}` },
  });
}

async function listObjects(req: Request, _p: string[], ctx: AdminContext): Promise<Response> {
  const all = await ctx.store.range(keys.objectPrefix);
  return reply(req, all.map((kv) => parseStoredJson(kv) as { name: string }).sort(byName));
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function getObject(req: Request, [name]: string[], ctx: AdminContext): Promise<Response> {
  const spec = await readStoredObject(ctx.store, name);
  if (!spec) throw new ApiError(404, `not found: ${name}`);
  return reply(req, spec);
}

async function updateObject(req: Request, [name]: string[], ctx: AdminContext): Promise<Response> {
  const raw = await readDocument(req);
  const spec = validateObject(raw, ctx.filters);
  if (spec.name !== name) {
    throw new ApiError(400, `the body's name "${spec.name}" differs from the URL's "${name}"`);
  }
  const replaced = await replaceStored(
    ctx.store,
    keys.object(name),
    JSON.stringify(spec),
    name,
    (existing) => {
      const oldKind = canonicalKind((parseStoredJson(existing) as { kind: string }).kind);
      if (oldKind !== spec.kind) {
        throw new ApiError(400, `different kinds: ${oldKind}, ${spec.kind}`);
      }
    },
  );
  if (!replaced) throw new ApiError(404, `not found: ${name}`);
  await raiseConfigVersion(ctx, `${name} updated`);
  return new Response(null, { status: 200 });
}

async function deleteObject(_req: Request, [name]: string[], ctx: AdminContext): Promise<Response> {
  if (!(await ctx.store.delete(keys.object(name)))) throw new ApiError(404, `not found: ${name}`);
  await raiseConfigVersion(ctx, `${name} deleted`);
  return new Response(null, { status: 200 });
}

/** Every member's status of one object: this node's live, others' as last synced. */
async function statusOf(name: string, ctx: AdminContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const prefix = `${keys.statusPrefix}${name}/`;
  for (const kv of await ctx.store.range(prefix)) {
    const member = kv.key.slice(prefix.length);
    if (member !== ctx.memberName) out[member] = parseStoredJson(kv);
  }
  const local = await ctx.localStatus(name);
  if (local) out[ctx.memberName] = stamped(local);
  return byMember(out);
}

/**
 * Statuses in member-name order, as Easegress's YAML of a map is: this
 * member's, added last, would otherwise move with the node asked.
 */
function byMember<T>(statuses: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(statuses).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
  );
}

/**
 * A live status with the `timestamp` (unix seconds) every synced one carries,
 * so readers checking freshness find it on this member's status too.
 */
function stamped(status: Record<string, unknown>): Record<string, unknown> {
  return { ...status, timestamp: Math.floor(Date.now() / 1000) };
}

async function getStatus(req: Request, [name]: string[], ctx: AdminContext): Promise<Response> {
  if (!(await ctx.store.get(keys.object(name)))) throw new ApiError(404, `not found: ${name}`);
  return reply(req, await statusOf(name, ctx));
}

async function listStatuses(req: Request, _p: string[], ctx: AdminContext): Promise<Response> {
  // Two range reads whatever the number of objects.
  const [objects, statuses] = await Promise.all([
    ctx.store.range(keys.objectPrefix),
    ctx.store.range(keys.statusPrefix),
  ]);
  const out: Record<string, Record<string, unknown>> = {};
  for (const kv of objects) out[kv.key.slice(keys.objectPrefix.length)] = {};
  for (const kv of statuses) {
    const [name, member] = kv.key.slice(keys.statusPrefix.length).split("/");
    if (out[name] && member !== ctx.memberName) out[name][member] = parseStoredJson(kv);
  }
  const names = Object.keys(out);
  const locals = await Promise.all(names.map((name) => ctx.localStatus(name)));
  names.forEach((name, i) => {
    if (locals[i]) out[name][ctx.memberName] = stamped(locals[i]!);
    out[name] = byMember(out[name]);
  });
  return reply(req, out);
}

async function purgeMember(_req: Request, [name]: string[], ctx: AdminContext): Promise<Response> {
  // A member name never holds "/" (it would split the member's store keys): none to purge.
  if (name.includes("/") || !(await ctx.purgeMember(name))) {
    throw new ApiError(404, `no member named ${name}`);
  }
  return new Response(null, { status: 200 });
}

function filterKindOf(ctx: AdminContext, kind: string) {
  const k = ctx.filters.get(kind);
  if (!k) throw new ApiError(404, `no filter kind named ${kind}`);
  return k;
}

function filterResults(req: Request, [kind]: string[], ctx: AdminContext): Promise<Response> {
  return reply(req, [...filterKindOf(ctx, kind).results]);
}

function filterDescription(_req: Request, [kind]: string[], ctx: AdminContext): Response {
  return new Response(filterKindOf(ctx, kind).description, {
    headers: { "content-type": "text/plain" },
  });
}
