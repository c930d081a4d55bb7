/**
 * The WasmHost routes, as Easegress's: `POST /wasm/code` asks every
 * WasmHost filter of the cluster to load its code again, and
 * `/wasm/data/{pipeline}/{filter}` reads (GET), adds to (PUT) and clears
 * (DELETE) a filter's shared data.
 *
 * @module
 */

import { spellingOf } from "../../filters/yaml_plain_scalars.ts";
import { keys, type Store } from "../../cluster/store.ts";
import { isPlainObject } from "../../filters/spec.ts";
import { type AdminRoute, ApiError, readDocument, reply } from "./replies.ts";
import { readStoredObject } from "../objects.ts";

/** What the routes need. */
export interface WasmRouteContext {
  store: Store;
}

/** The WasmHost routes, as the admin API's route table takes them. */
export const WASM_ROUTES: AdminRoute<WasmRouteContext>[] = [
  { method: "POST", pattern: "/wasm/code", handler: postReload },
  { method: "GET", pattern: "/wasm/data/{pipeline}/{filter}", handler: listData },
  { method: "PUT", pattern: "/wasm/data/{pipeline}/{filter}", handler: applyData },
  { method: "DELETE", pattern: "/wasm/data/{pipeline}/{filter}", handler: deleteData },
];

async function postReload(_req: Request, _p: string[], ctx: WasmRouteContext): Promise<Response> {
  const at = new Date().toISOString();
  // Every member watches the key: the reload reaches each node's filters.
  await ctx.store.put(keys.wasmCodeEvent, at);
  return new Response(`wasm code reload event posted at: ${at}\n`, {
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Refuses (404) unless Pipeline `pipeline` has a WasmHost filter called `filter`. */
async function requireWasmHost(ctx: WasmRouteContext, pipeline: string, filter: string) {
  const spec = await readStoredObject(ctx.store, pipeline);
  const found = spec?.kind === "Pipeline" &&
    spec.filters.some((f) => f.name === filter && f.kind === "WasmHost");
  if (!found) throw new ApiError(404, `no WasmHost filter ${filter} in a Pipeline ${pipeline}`);
  return keys.wasmData(pipeline, filter);
}

async function listData(
  req: Request,
  [pipeline, filter]: string[],
  ctx: WasmRouteContext,
): Promise<Response> {
  const prefix = await requireWasmHost(ctx, pipeline, filter);
  const data: Record<string, string> = {};
  for (const kv of await ctx.store.range(prefix)) data[kv.key.slice(prefix.length)] = kv.value;
  return reply(req, data);
}

async function applyData(
  req: Request,
  [pipeline, filter]: string[],
  ctx: WasmRouteContext,
): Promise<Response> {
  const prefix = await requireWasmHost(ctx, pipeline, filter);
  const doc = await readDocument(req, "the request body is empty; send a map of keys to values");
  if (!isPlainObject(doc)) throw new ApiError(400, "the data must be a map of keys to values");
  // All checked before any is written.
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === "") throw new ApiError(400, "a key is empty");
    if (typeof value === "object" && value !== null) {
      throw new ApiError(400, `${key}: must be a string, number or boolean`);
    }
    // As written (`version: 1.10` is "1.10"), as Easegress's Go YAML reads a map of strings.
    entries.push([key, value === null ? "" : spellingOf(doc, key) ?? String(value)]);
  }
  // One change: the embedded store writes its file once for them all, not once per key.
  await ctx.store.writeAll(entries.map(([key, value]) => [prefix + key, value]), []);
  return new Response(null, { status: 200 });
}

async function deleteData(
  _req: Request,
  [pipeline, filter]: string[],
  ctx: WasmRouteContext,
): Promise<Response> {
  await ctx.store.deletePrefix(await requireWasmHost(ctx, pipeline, filter));
  return new Response(null, { status: 200 });
}
