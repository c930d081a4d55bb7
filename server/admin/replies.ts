/**
 * How the admin API reads request bodies and writes answers: YAML or JSON
 * documents in, YAML (or JSON when accepted) out, errors as `{code, message}`.
 *
 * @module
 */

import { concatBytes } from "../../filters/concat_bytes.ts";
import { readOneDocument } from "../../filters/yaml_module.ts";
import { toYamlText } from "../yaml_text.ts";

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

/** Whether `value` nests maps and lists more than `limit` levels deep (read without recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (depth > limit) return true;
    for (const child of Object.values(node as object)) {
      if (child !== null && typeof child === "object") pending.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Parses a request body holding exactly one YAML or JSON document; an empty
 * body is refused (400) with `emptyMessage`, and so is one nested deeper
 * than {@linkcode MAX_DOCUMENT_DEPTH}.
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
  if (typeof value === "object" && nestsDeeperThan(value, MAX_DOCUMENT_DEPTH)) {
    throw new ApiError(
      400,
      `the request body nests maps and lists more than ${MAX_DOCUMENT_DEPTH} levels deep`,
    );
  }
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
