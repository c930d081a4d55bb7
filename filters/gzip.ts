/**
 * gzip and gunzip of message bodies with the web `CompressionStream` and
 * `DecompressionStream`: buffered bodies stay buffered, stream bodies stay
 * streams (compressed while they are read).
 *
 * Memory: `DecompressionStream` unpacks each chunk it is given at once, and
 * gzip packs up to about 1 000 times, so the packed bytes are fed to it a few
 * KiB at a time, each unpacked only as the reader asks for more (a 500 KB
 * body of zeros made one 500 MB chunk otherwise); a buffered body that
 * unpacks past {@linkcode GUNZIP_BUFFER_MAX} goes on as a stream, as Go's
 * reader does for Easegress, instead of being held whole.
 *
 * Limits: a body made of several concatenated gzip members is rejected (Go's
 * reader accepts it; Deno's `DecompressionStream` does not).
 *
 * @module
 */

import { type Body, HttpRequest, type HttpResponse, readAll } from "./context.ts";
import type { SpecReader } from "./spec.ts";
import { equalsLower } from "./byte_string.ts";
import { concatBytes } from "./concat_bytes.ts";

/** Thrown when a body that should be gzip is not. */
export class GzipFormatError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "GzipFormatError";
  }
}

type ByteTransform = TransformStream<Uint8Array, Uint8Array>;

// The lib types ask for ArrayBuffer-backed chunks; the streams take any Uint8Array.
function compressor(): ByteTransform {
  return new CompressionStream("gzip") as unknown as ByteTransform;
}

function decompressor(): ByteTransform {
  return new DecompressionStream("gzip") as unknown as ByteTransform;
}

function streamOf(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
}

/**
 * Packed bytes handed to the decompressor at once: what one of them unpacks
 * to (at most about 1 032 times as much, deflate's limit) is the largest
 * chunk a gunzipped body holds in memory.
 */
const GUNZIP_SLICE = 4 * 1024;

/** Past this many unpacked bytes, a buffered body is unpacked as a stream (see the module doc). */
export const GUNZIP_BUFFER_MAX = 4 * 1024 * 1024;

/**
 * `chunks`, then what `reader` yields, in pieces of at most GUNZIP_SLICE
 * bytes, each read only when asked for (no read-ahead).
 */
function slices(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array> | null,
): ReadableStream<Uint8Array> {
  let index = 0;
  let chunk: Uint8Array | undefined;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (chunk === undefined || offset >= chunk.byteLength) {
        offset = 0;
        if (index < chunks.length) chunk = chunks[index++];
        else if (reader === null) return controller.close();
        else {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          chunk = value;
        }
      }
      const end = Math.min(offset + GUNZIP_SLICE, chunk.byteLength);
      controller.enqueue(chunk.subarray(offset, end));
      offset = end;
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** `chunks`, then what `reader` yields, unpacked: fed to the decompressor in slices (see GUNZIP_SLICE). */
function unpacked(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array> | null,
): ReadableStream<Uint8Array> {
  return slices(chunks, reader).pipeThrough(decompressor());
}

/** gzip-compresses `data`. */
export function gzip(data: Uint8Array): Promise<Uint8Array> {
  return readAll(streamOf(data).pipeThrough(compressor()));
}

/** Decompresses gzip `data`; throws when it is not valid gzip. */
export async function gunzip(data: Uint8Array): Promise<Uint8Array> {
  try {
    return await readAll(unpacked([data], null));
  } catch (e) {
    throw new GzipFormatError(`Cannot gunzip body: ${(e as Error).message}`);
  }
}

/**
 * Decompresses gzip `data` into bytes when they unpack to at most
 * {@linkcode GUNZIP_BUFFER_MAX}, else into a stream that yields the bytes
 * unpacked so far and the rest as it is read. Throws
 * {@linkcode GzipFormatError} when `data` is not valid gzip as far as it was
 * read; later corruption errors the stream.
 */
export async function gunzipBuffered(
  data: Uint8Array,
): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  const reader = unpacked([data], null).getReader();
  const held: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return held.length === 1 ? held[0] : concatBytes(held, size);
      held.push(value);
      size += value.byteLength;
      if (size > GUNZIP_BUFFER_MAX) break;
    }
  } catch (e) {
    throw new GzipFormatError(`Cannot gunzip body: ${(e as Error).message}`);
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
      held.length = 0;
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** A stream that yields `stream` gzip-compressed. */
export function gzipStream(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(compressor());
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * A stream that yields `stream` decompressed. The first bytes are read now,
 * so a body that does not start like gzip fails here, as Go's reader does
 * when it reads the header; later corruption errors the returned stream.
 */
export async function gunzipStream(
  stream: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  const head: Uint8Array[] = [];
  let headSize = 0;
  while (headSize < 2) {
    const { done, value } = await reader.read();
    if (done) break;
    head.push(value);
    headSize += value.byteLength;
  }
  const first = head[0];
  const second = first?.byteLength > 1 ? first[1] : head[1]?.[0];
  if (headSize < 2 || first[0] !== GZIP_MAGIC_0 || second !== GZIP_MAGIC_1) {
    reader.cancel().catch(() => {});
    throw new GzipFormatError("Cannot gunzip body: invalid gzip header");
  }
  return unpacked(head, reader);
}

/** Whether `body` carries no bytes at all (nothing to (de)compress). */
export function isEmptyBody(body: Body): boolean {
  return body === null || (body instanceof Uint8Array && body.byteLength === 0);
}

/** gzip-compresses a body, keeping its form: bytes give bytes, a stream a stream. */
export async function gzipBody(body: Uint8Array | ReadableStream<Uint8Array>): Promise<Body> {
  return body instanceof Uint8Array ? await gzip(body) : gzipStream(body);
}

/**
 * Decompresses a gzip body, keeping its form, but for bytes that unpack past
 * {@linkcode GUNZIP_BUFFER_MAX}, which become a stream; throws
 * {@linkcode GzipFormatError}.
 */
export function gunzipBody(body: Uint8Array | ReadableStream<Uint8Array>): Promise<Body> {
  return body instanceof Uint8Array ? gunzipBuffered(body) : gunzipStream(body);
}

/** Reads an optional `compress`/`decompress` field: "gzip", or "" / absent for none. */
export function readGzipField(r: SpecReader, field: string): "gzip" | undefined {
  const value = r.string(field);
  if (!value) return undefined;
  if (value !== "gzip") {
    r.problem(field, `must be "gzip" (the only supported coding), got "${value}"`);
  }
  return "gzip";
}

/** The message's Content-Encoding, or "" when absent. */
function contentEncoding(message: HttpRequest | HttpResponse): string {
  return message.header("content-encoding")?.trim() ?? "";
}

/** Sets Content-Length for a buffered body; drops it for a stream, whose length is unknown. */
export function fixContentLength(message: HttpRequest | HttpResponse): void {
  const body = message.body;
  const headers = message.headers;
  if (body instanceof ReadableStream) headers.delete("content-length");
  else {
    headers.set("content-length", String(body?.byteLength ?? 0));
    headers.delete("transfer-encoding");
  }
}

/**
 * gzips the body of `message` and sets `Content-Encoding: gzip`, unless it
 * already has a Content-Encoding (gzip over another coding would mislabel it)
 * or has no body. Returns false when compressing failed.
 */
export async function gzipMessage(message: HttpRequest | HttpResponse): Promise<boolean> {
  const body = message.body;
  if (contentEncoding(message) !== "" || isEmptyBody(body)) return true;
  try {
    message.body = await gzipBody(body!);
  } catch {
    return false;
  }
  message.headers.set("content-encoding", "gzip");
  fixContentLength(message);
  return true;
}

/**
 * Decompresses the body of `message` when its Content-Encoding is gzip, and
 * removes that header. A message with no body is left as it is. Returns
 * false when the body is not valid gzip.
 */
export async function gunzipMessage(message: HttpRequest | HttpResponse): Promise<boolean> {
  const body = message.body;
  if (contentEncoding(message).toLowerCase() !== "gzip" || body === null) return true;
  try {
    message.body = await gunzipBody(body);
  } catch {
    return false;
  }
  // Unpacked, a request's body may be any size: it goes on as it comes, as one the route
  // streams does, rather than be read whole (up to the route's limit) to be sent again by
  // a retry; Easegress streams it too.
  if (message instanceof HttpRequest && message.body instanceof ReadableStream) {
    message.replayLimit = -1;
  }
  message.headers.delete("content-encoding");
  fixContentLength(message);
  return true;
}

const OTHER_CODING = 0;
const GZIP_CODING = 1;
const ANY_CODING = 2;

/**
 * Whether a request's Accept-Encoding value takes gzip (RFC 9110 section
 * 12.5.3): codings are compared without case, `x-gzip` counts as `gzip`,
 * gzip's own weight decides when it is listed, else that of `*` (or of
 * the media-range wildcard star-slash-star, which Easegress takes as any);
 * a weight of 0 (or one that is not a number from 0 to 1) refuses. An empty
 * value takes no coding; a request without the header takes any, which
 * callers decide.
 * A scan without regular expressions: the usual `gzip, deflate, br` costs
 * a few character compares.
 */
export function acceptsGzip(value: string): boolean {
  let gzip = -1;
  let any = -1;
  const n = value.length;
  let semi = value.indexOf(";");
  let pos = 0;
  while (pos < n) {
    let end = value.indexOf(",", pos);
    if (end < 0) end = n;
    if (semi >= 0 && semi < pos) semi = value.indexOf(";", pos);
    const nameEnd = semi >= 0 && semi < end ? semi : end;
    let s = pos;
    let e = nameEnd;
    while (s < e && isListSpace(value.charCodeAt(s))) s++;
    while (e > s && isListSpace(value.charCodeAt(e - 1))) e--;
    const kind = codingKind(value, s, e);
    if (kind !== OTHER_CODING) {
      const q = nameEnd < end ? weightOf(value.slice(nameEnd + 1, end)) : 1;
      if (kind === GZIP_CODING) {
        if (q > gzip) gzip = q;
      } else if (q > any) any = q;
    }
    pos = end + 1;
  }
  return gzip >= 0 ? gzip > 0 : any > 0;
}

function isListSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/** The coding named by `value[s, e)`: gzip (or x-gzip), any (`*`, star-slash-star), or another. */
function codingKind(value: string, s: number, e: number): number {
  switch (e - s) {
    case 1:
      return value.charCodeAt(s) === 42 ? ANY_CODING : OTHER_CODING;
    case 3:
      return value.startsWith("*/*", s) ? ANY_CODING : OTHER_CODING;
    case 4:
      return equalsLower(value, s, "gzip") ? GZIP_CODING : OTHER_CODING;
    case 6:
      return equalsLower(value, s, "x-gzip") ? GZIP_CODING : OTHER_CODING;
    default:
      return OTHER_CODING;
  }
}

/** The weight in a coding's parameters (`q=0.5; ...`): 1 without one, 0 when it is malformed. */
function weightOf(params: string): number {
  for (const param of params.split(";")) {
    const eq = param.indexOf("=");
    if (eq < 0) continue;
    const name = param.slice(0, eq).trim();
    if (name !== "q" && name !== "Q") continue;
    const text = param.slice(eq + 1).trim();
    const q = text === "" ? NaN : Number(text);
    return q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}
