/**
 * Custom data (Easegress's `/customdatakinds` and `/customdata` routes):
 * kinds, each naming its id field and an optional JSON Schema, and their
 * items, kept in the store under `/custom-data/<kind>/<id>`, where
 * Validator `basicAuth` (mode ETCD) and HeaderLookup read them. Missing
 * things answer 404 and existing ones 409, where Easegress answers 503
 * for both.
 *
 * @module
 */

import { keys, parseStoredJson, type Store } from "../../cluster/store.ts";
import { isPlainObject, yamlBoolean } from "../../filters/spec.ts";
import { type AdminRoute, ApiError, readDocument, reply } from "./replies.ts";
import { isDotSegment } from "../names.ts";
import { compileGoRegexp } from "../../filters/go_regexp.ts";
import { asDraft07, draft06MetaSchema } from "./json_schema_drafts.ts";
import { replaceStored } from "./key_turns.ts";

/** A custom data kind. */
export interface CustomDataKind {
  name: string;
  /** The item field that holds an item's id. @default {"name"} */
  idField: string;
  /** Every item must satisfy it, when set. */
  jsonSchema?: Record<string, unknown>;
}

/** What the routes need. */
export interface CustomDataContext {
  store: Store;
}

/** The custom data routes, as the admin API's route table takes them. */
export const CUSTOM_DATA_ROUTES: AdminRoute<CustomDataContext>[] = [
  { method: "GET", pattern: "/customdatakinds", handler: listKinds },
  { method: "GET", pattern: "/customdatakinds/{name}", handler: getKind },
  { method: "POST", pattern: "/customdatakinds", handler: (req, _p, c) => writeKind(req, c, true) },
  { method: "PUT", pattern: "/customdatakinds", handler: (req, _p, c) => writeKind(req, c, false) },
  { method: "DELETE", pattern: "/customdatakinds/{name}", handler: deleteKind },
  { method: "GET", pattern: "/customdata/{kind}", handler: listItems },
  { method: "POST", pattern: "/customdata/{kind}/items", handler: batchUpdate },
  { method: "GET", pattern: "/customdata/{kind}/{id}", handler: getItem },
  {
    method: "POST",
    pattern: "/customdata/{kind}",
    handler: (req, [kind], c) => writeItem(req, kind, c, true),
  },
  {
    method: "PUT",
    pattern: "/customdata/{kind}",
    handler: (req, [kind], c) => writeItem(req, kind, c, false),
  },
  { method: "DELETE", pattern: "/customdata/{kind}/{id}", handler: deleteItem },
];

const KIND_NAME = /^[A-Za-z0-9\-_.~@:]{1,253}$/;
/**
 * What an item id may be: any text Easegress stores (names with spaces,
 * non-ASCII, e-mail addresses), but no "/" (a URL path segment and a store
 * key level) and no control characters.
 */
// deno-lint-ignore no-control-regex
const ITEM_ID = /^[^/\x00-\x1f\x7f]{1,253}$/;

/**
 * A kind name (`pattern` KIND_NAME) or item id (ITEM_ID), which is also a URL
 * path segment, so not "." or ".." unless `dotSegments` (deleting one stored
 * before they were refused).
 */
function checkKeyPart(
  what: string,
  value: unknown,
  pattern: RegExp,
  dotSegments = false,
): string {
  // Absent is told as such: JSON has no spelling for it ("got undefined").
  if (value === undefined || value === null) throw new ApiError(400, `${what} is required`);
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !pattern.test(text) || (!dotSegments && isDotSegment(text))) {
    const allowed = pattern === KIND_NAME
      ? "1-253 letters, digits or -_.~@:"
      : "1-253 characters, without / or control characters";
    throw new ApiError(
      400,
      `${what} must be ${allowed} (not "." or ".."), got ${JSON.stringify(value)}`,
    );
  }
  return text;
}

/** Reads and checks a kind document. */
async function readKind(req: Request): Promise<CustomDataKind> {
  const doc = await readDocument(req);
  if (!isPlainObject(doc)) throw new ApiError(400, "a custom data kind must be a map");
  const unknown = Object.keys(doc).filter((k) => !["name", "idField", "jsonSchema"].includes(k));
  if (unknown.length) throw new ApiError(400, `unknown field(s) of a kind: ${unknown.join(", ")}`);
  const kind: CustomDataKind = {
    name: checkKeyPart("name", doc.name, KIND_NAME),
    idField: readIdField(doc.idField),
  };
  if (doc.jsonSchema !== undefined && doc.jsonSchema !== null && doc.jsonSchema !== "") {
    if (!isPlainObject(doc.jsonSchema)) throw new ApiError(400, "jsonSchema must be a map");
    requireFiniteNumbers(doc.jsonSchema, "jsonSchema", `custom data kind ${kind.name}`);
    kind.jsonSchema = doc.jsonSchema;
    await compileSchema(kind);
  }
  return kind;
}

/** A kind's `idField`: a field name, `name` when absent or empty. */
function readIdField(value: unknown): string {
  if (value === undefined || value === null || value === "") return "name";
  if (typeof value !== "string") {
    throw new ApiError(400, `idField must be a field name, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * How schemas' `pattern` and `patternProperties` are compiled: as Go regular
 * expressions, as Easegress's gojsonschema reads them. Translated without
 * JavaScript's `u` flag where Go's meaning allows, they also run on V8's
 * linear-time fallback, where a `u` pattern such as `(a+)+$` held the
 * control plane for minutes on one item.
 */
const GO_REGEXP_ENGINE = Object.assign((pattern: string) => compileGoRegexp(pattern), {
  code: "compileGoRegexp",
});

/** A validator of items for `kind`'s schema; throws 400 naming what is wrong with the schema. */
async function compileSchema(kind: CustomDataKind): Promise<(item: unknown) => string | undefined> {
  if (!kind.jsonSchema) return () => undefined;
  // Loaded on demand: only kinds with a schema need it.
  const { Ajv } = await import("ajv");
  const ajv = new Ajv({ allErrors: true, strict: false, code: { regExp: GO_REGEXP_ENGINE } });
  ajv.addMetaSchema(await draft06MetaSchema());
  let validate;
  try {
    validate = ajv.compile(asDraft07(kind.jsonSchema));
  } catch (e) {
    throw new ApiError(
      400,
      `jsonSchema of ${kind.name} is not a JSON Schema: ${(e as Error).message}`,
    );
  }
  return (item) =>
    validate(item) ? undefined : ajv.errorsText(validate.errors, { dataVar: "item" });
}

async function storedKind(store: Store, name: string): Promise<CustomDataKind> {
  const kv = await store.get(keys.customDataKind(name));
  if (!kv) throw new ApiError(404, `no custom data kind named ${name}`);
  return parseStoredJson(kv) as CustomDataKind;
}

async function listKinds(req: Request, _p: string[], ctx: CustomDataContext): Promise<Response> {
  const all = await ctx.store.range(keys.customDataKindPrefix);
  return reply(req, all.map(parseStoredJson));
}

async function getKind(req: Request, [name]: string[], ctx: CustomDataContext): Promise<Response> {
  return reply(req, await storedKind(ctx.store, name));
}

async function writeKind(req: Request, ctx: CustomDataContext, create: boolean): Promise<Response> {
  const kind = await readKind(req);
  const key = keys.customDataKind(kind.name);
  if (create) {
    const written = await ctx.store.put(key, JSON.stringify(kind), { expectRevision: 0 });
    if (!written) throw new ApiError(409, `custom data kind ${kind.name} exists`);
    return new Response(null, { status: 201 });
  }
  if (
    !(await replaceStored(ctx.store, key, JSON.stringify(kind), `custom data kind ${kind.name}`))
  ) {
    throw new ApiError(404, `no custom data kind named ${kind.name}`);
  }
  return new Response(null, { status: 200 });
}

/** Deletes the kind and its items (Easegress left the items behind, unreachable). */
async function deleteKind(_req: Request, [name]: string[], ctx: CustomDataContext) {
  if (!(await ctx.store.delete(keys.customDataKind(name)))) {
    throw new ApiError(404, `no custom data kind named ${name}`);
  }
  await ctx.store.deletePrefix(keys.customDataItems(name));
  return new Response(null, { status: 200 });
}

async function listItems(req: Request, [kind]: string[], ctx: CustomDataContext) {
  await storedKind(ctx.store, kind);
  const all = await ctx.store.range(keys.customDataItems(kind));
  return reply(req, all.map(parseStoredJson));
}

async function getItem(req: Request, [kind, id]: string[], ctx: CustomDataContext) {
  await storedKind(ctx.store, kind);
  const kv = await ctx.store.get(keys.customData(kind, id));
  if (!kv) throw new ApiError(404, `no ${kind} item with id ${id}`);
  return reply(req, parseStoredJson(kv));
}

/**
 * Where in `value` a number is infinite or NaN (`.inf`, `.nan`, `1e400`), as
 * `root/field/0`; undefined when none is. Items and schemas are stored as
 * JSON, which has no such numbers: they were stored as null, silently.
 */
function nonFiniteNumberAt(value: unknown, root: string): string | undefined {
  const pending: [unknown, string][] = [[value, root]];
  while (pending.length > 0) {
    const [node, path] = pending.pop()!;
    if (typeof node === "number" && !Number.isFinite(node)) return path;
    if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) pending.push([child, `${path}/${key}`]);
    }
  }
  return undefined;
}

/** Refuses (400) a document holding a number JSON cannot hold, naming where. */
function requireFiniteNumbers(value: unknown, root: string, what: string): void {
  const at = nonFiniteNumberAt(value, root);
  if (at !== undefined) {
    throw new ApiError(400, `${what}: ${at} must be a finite number (not .inf, .nan or 1e400)`);
  }
}

/** An item checked against its kind: a map with an id, valid for the schema. */
function checkItem(
  kind: CustomDataKind,
  validate: (item: unknown) => string | undefined,
  item: unknown,
): { id: string; item: Record<string, unknown> } {
  if (!isPlainObject(item)) throw new ApiError(400, `a ${kind.name} item must be a map`);
  if (item[kind.idField] === undefined || item[kind.idField] === null) {
    throw new ApiError(400, `a ${kind.name} item needs its id field "${kind.idField}"`);
  }
  const id = checkKeyPart(`the item's ${kind.idField}`, item[kind.idField], ITEM_ID);
  requireFiniteNumbers(item, "item", `${kind.name} item ${id}`);
  const problem = validate(item);
  if (problem) throw new ApiError(400, `${kind.name} item ${id}: ${problem}`);
  return { id, item };
}

async function writeItem(
  req: Request,
  kindName: string,
  ctx: CustomDataContext,
  create: boolean,
): Promise<Response> {
  const kind = await storedKind(ctx.store, kindName);
  const { id, item } = checkItem(kind, await compileSchema(kind), await readDocument(req));
  const key = keys.customData(kind.name, id);
  if (create) {
    const written = await ctx.store.put(key, JSON.stringify(item), { expectRevision: 0 });
    if (!written) throw new ApiError(409, `${kind.name} item ${id} exists`);
    return new Response(null, { status: 201 });
  }
  if (!(await replaceStored(ctx.store, key, JSON.stringify(item), `${kind.name} item ${id}`))) {
    throw new ApiError(404, `no ${kind.name} item with id ${id}`);
  }
  return new Response(null, { status: 200 });
}

async function deleteItem(_req: Request, [kind, id]: string[], ctx: CustomDataContext) {
  await storedKind(ctx.store, kind);
  if (!(await ctx.store.delete(keys.customData(kind, id)))) {
    throw new ApiError(404, `no ${kind} item with id ${id}`);
  }
  return new Response(null, { status: 200 });
}

/**
 * `{rebuild, delete, list}`: every item is checked before anything is
 * written; then the listed items are written and the ids to delete (with
 * `rebuild`, every other item) deleted, which ends where Easegress's order
 * (all gone, the ids deleted, the items written) ends.
 */
async function batchUpdate(req: Request, [kindName]: string[], ctx: CustomDataContext) {
  const kind = await storedKind(ctx.store, kindName);
  const doc = await readDocument(req);
  if (!isPlainObject(doc)) {
    throw new ApiError(400, "a batch must be a map of rebuild, delete, list");
  }
  // A misspelt field or a rebuild that is not a boolean would otherwise do nothing, silently.
  const unknown = Object.keys(doc).filter((k) => !["rebuild", "delete", "list"].includes(k));
  if (unknown.length) {
    throw new ApiError(
      400,
      `unknown field(s) of a batch: ${unknown.join(", ")}; use rebuild, delete, list`,
    );
  }
  const rebuild = yamlBoolean(doc.rebuild ?? false);
  if (rebuild === undefined) {
    throw new ApiError(400, `rebuild must be true or false, got ${JSON.stringify(doc.rebuild)}`);
  }
  const deletes = doc.delete ?? [];
  const list = doc.list ?? [];
  if (!Array.isArray(deletes)) throw new ApiError(400, "delete must be a list of ids");
  if (!Array.isArray(list)) throw new ApiError(400, "list must be a list of items");
  const validate = await compileSchema(kind);
  const items = list.map((item) => checkItem(kind, validate, item));
  const ids = deletes.map((id) => checkKeyPart("an id to delete", id, ITEM_ID, true));
  // Writes first, and only of what changes, deletes last: a store may take them one at a time
  // (etcd does), and traffic reading the items (basicAuth users, say) must never miss one the
  // batch keeps, as it did for the whole of a rebuild that deleted them all before writing them.
  const stored = new Map(
    (await ctx.store.range(keys.customDataItems(kind.name))).map((kv) => [kv.key, kv.value]),
  );
  // The last of two items with one id is the one kept.
  const listed = new Map(items.map(({ id, item }) => [keys.customData(kind.name, id), item]));
  const puts: [string, string][] = [];
  for (const [key, item] of listed) {
    const value = JSON.stringify(item);
    if (stored.get(key) !== value) puts.push([key, value]);
  }
  const gone = new Set(ids.map((id) => keys.customData(kind.name, id)));
  if (rebuild) { for (const key of stored.keys()) gone.add(key); }
  await ctx.store.writeAll(puts, [...gone].filter((key) => !listed.has(key)));
  return new Response(null, { status: 200 });
}
