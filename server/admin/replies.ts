/**
 * How the admin API reads request bodies and writes answers: YAML or JSON
 * documents in, YAML (or JSON when accepted) out, errors as `{code, message}`.
 *
 * @module
 */

import { concatBytes } from "../../filters/concat_bytes.ts";
import { readOneDocument } from "../../filters/yaml_module.ts";
import { toYamlText } from "../../filters/yaml_text.ts";

/** One admin API route: a handler for a method and a path pattern (`{param}`: one segment). */
export interface AdminRoute<C> {
  method: string;
  pattern: string;
  handler: (req: Request, params: string[], ctx: C) => Promise<Response> | Response;
}

/** An error answered as `{code, message}`. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function wantsJson(req: Request): boolean {
  return (req.headers.get("accept") ?? "").includes("application/json");
}

/** A 200 (or `status`) answer with `body` as YAML or JSON. */
export async function reply(req: Request, body: unknown, status = 200): Promise<Response> {
  if (wantsJson(req)) {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  }
  return new Response(await toYamlText(body), {
    status,
    headers: { "content-type": "text/vnd.yaml" },
  });
}

/** The `{code, message}` answer of `e`. */
export function errorReply(req: Request, e: ApiError): Promise<Response> {
  return reply(req, { code: e.status, message: e.message }, e.status);
}

/** Largest object body the admin API reads: certificates included, objects are far smaller. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** The request body as UTF-8 text, refused (413) past {@linkcode MAX_DOCUMENT_BYTES} before it is all read. */
async function readBody(req: Request): Promise<string> {
  const tooLarge = () =>
    new ApiError(413, `the request body is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > MAX_DOCUMENT_BYTES) throw tooLarge();
  if (req.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > MAX_DOCUMENT_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(concatBytes(chunks, size));
  } catch {
    // Go's YAML reader refuses it too; read leniently, "café" in Latin-1 would be stored damaged.
    throw new ApiError(400, "the request body is not UTF-8 text");
  }
}

/**
 * Deepest nesting of maps and lists a body may hold. Answers giving it back
 * as YAML are written recursively, and fail near 900 levels: a custom data
 * item nested deeper was stored, then every listing of its kind answered 500.
 * No config comes near this.
 */
const MAX_DOCUMENT_DEPTH = 256;

/** YAML 1.1 types the parser gives as objects JSON cannot hold, by what they are. */
function yamlOnlyTag(node: object): string | undefined {
  if (node instanceof Set) return "!!set";
  if (node instanceof Map) return "!!omap";
  if (ArrayBuffer.isView(node)) return "!!binary";
  return undefined;
}

/**
 * What in `value` cannot be stored and given back (read without recursion):
 * nesting deeper than `limit`, or a value of a YAML type JSON has no
 * spelling for, which was stored as `{}` (a set, an ordered map) or as a
 * Buffer's fields (binary); undefined when all is well.
 */
function documentProblem(value: object, limit: number): string | undefined {
  const pending: [object, number, string][] = [[value, 1, ""]];
  while (pending.length > 0) {
    const [node, depth, path] = pending.pop()!;
    if (depth > limit) return `nests maps and lists more than ${limit} levels deep`;
    const tag = yamlOnlyTag(node);
    if (tag !== undefined) {
      return `holds a YAML ${tag} at ${path || "its top"}, which is not stored: ` +
        "write it as a map, a list or a string";
    }
    const isList = Array.isArray(node);
    for (const [key, child] of Object.entries(node)) {
      if (child === null || typeof child !== "object") continue;
      pending.push([child, depth + 1, isList ? `${path}[${key}]` : path ? `${path}.${key}` : key]);
    }
  }
  return undefined;
}

/**
 * Parses a request body holding exactly one YAML or JSON document; an empty
 * body is refused (400) with `emptyMessage`, and so is one nested deeper
 * than {@linkcode MAX_DOCUMENT_DEPTH} or holding a YAML set, ordered map or
 * binary.
 */
export async function readDocument(
  req: Request,
  emptyMessage = "the request body is empty; send one object as YAML or JSON",
): Promise<unknown> {
  const text = await readBody(req);
  if (!text.trim()) throw new ApiError(400, emptyMessage);
  const value = await parseDocument(text);
  // Only comments, or an explicit null: no document to act on.
  if (value === null) throw new ApiError(400, emptyMessage);
  const problem = typeof value === "object" && documentProblem(value, MAX_DOCUMENT_DEPTH);
  if (problem) throw new ApiError(400, `the request body ${problem}`);
  return value;
}

async function parseDocument(text: string): Promise<unknown> {
  // JSON (a subset of YAML) is read without the YAML module.
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch { /* not JSON after all: the YAML parser names the problem */ }
  }
  const read = await readOneDocument(text);
  if ("problem" in read) throw new ApiError(400, `the request body ${read.problem}`);
  return read.value;
}
