/**
 * Verification of Easegress's AWS SigV4-style request signatures: the
 * signature travels in the Authorization header, or (presigned) in the
 * query. Header and query names come from a configurable `literal`; with
 * AWS's literal (`X-Amz-*`, `AWS4-HMAC-SHA256`, `aws4_request`, `AWS4`) this
 * is AWS Signature Version 4.
 *
 * The canonical request follows Easegress's signer: the path as the request
 * carries it (Go's `URL.EscapedPath`), escaped once more; a signed header sent
 * several times gives its values trimmed and joined with "," (AWS SigV4's
 * rule). The body is hashed unless `excludeBody` is set or the request body
 * is a stream in Easegress's sense: on a route whose `clientMaxBodySize` is
 * -1 every request is, so those are checked with `UNSIGNED-PAYLOAD`.
 *
 * Limits: the path checked is `req.path` as filters see it, and the
 * HTTPServer rewrites the received path before any filter runs (escapes of
 * unreserved characters decoded, other escapes in upper-case hex, dot
 * segments resolved), so a path signed as the client spelled it, such as
 * `/a%7Eb` or `/caf%c3%a9`, only matches when that spelling survives. A
 * runtime `Headers` (not a {@linkcode HeaderFields}) keeps no field
 * boundaries, so there a repeated header counts as one value joined with
 * ", ". Requests built by filters rather than received (RequestBuilder)
 * carry no body limit and so count as streams too.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";
import { BodyTooLargeError, type HttpRequest } from "./context.ts";
import { headerNameProblem, headerValueText } from "./header_adapt.ts";
import { HeaderFields } from "./header_fields.ts";
import { goEscapedPath } from "./go_escaped_path.ts";
import { parseGoQuery } from "./go_query.ts";
import { constantTimeEqual } from "./password_hash.ts";
import { parseDuration, type SpecReader } from "./spec.ts";

/** The names and texts a signature uses. */
export interface SignatureLiteral {
  scopeSuffix: string;
  algorithmName: string;
  algorithmValue: string;
  signedHeaders: string;
  signature: string;
  date: string;
  expires: string;
  credential: string;
  contentSha256: string;
  signingKeyPrefix: string;
}

/** Which headers a presigning client may move into the query (used for signing only). */
export interface HeaderHoistingSpec {
  allowedPrefix?: string[];
  disallowedPrefix?: string[];
  disallowed?: string[];
}

/** The `signature` part of a Validator spec, normalized. */
export interface SignatureSpec {
  /** Access key id to secret, used to verify. */
  accessKeys: Record<string, string>;
  /** How far the signing time may be from now (a Go duration; "0s" = no limit). */
  ttl: string;
  /** Whether the body is left out of the signature (`UNSIGNED-PAYLOAD`). */
  excludeBody: boolean;
  /** Names and texts; absent ones take Easegress's defaults. */
  literal: SignatureLiteral;
  /** Headers a signer leaves out (Authorization and User-Agent always). Signing only. */
  ignoredHeaders?: string[];
  /** Header hoisting for presigning. Signing only. */
  headerHoisting?: HeaderHoistingSpec;
  /** Credentials for signing. Signing only. */
  accessKeyId?: string;
  /** Credentials for signing. Signing only. */
  accessKeySecret?: string;
}

/** Easegress's default literal. */
export const DEFAULT_SIGNATURE_LITERAL: Readonly<SignatureLiteral> = {
  scopeSuffix: "megaease_request",
  algorithmName: "X-Me-Algorithm",
  algorithmValue: "ME-HMAC-SHA256",
  signedHeaders: "X-Me-SignedHeaders",
  signature: "X-Me-Signature",
  date: "X-Me-Date",
  expires: "X-Me-Expires",
  credential: "X-Me-Credential",
  contentSha256: "X-Me-Content-Sha256",
  signingKeyPrefix: "ME",
};

function readLiteral(r: SpecReader): SignatureLiteral {
  const literal = { ...DEFAULT_SIGNATURE_LITERAL };
  for (const key of Object.keys(literal) as (keyof SignatureLiteral)[]) {
    const value = r.string(key);
    if (value) literal[key] = value;
  }
  return literal;
}

function readHeaderHoisting(r: SpecReader): HeaderHoistingSpec {
  const spec: HeaderHoistingSpec = {};
  for (const key of ["allowedPrefix", "disallowedPrefix", "disallowed"] as const) {
    const list = r.stringArray(key);
    if (list?.length) spec[key] = list;
  }
  return spec;
}

/** Reads the `signature` part of a Validator spec at `r`. */
export function readSignatureSpec(r: SpecReader): SignatureSpec {
  const accessKeys = r.stringMap("accessKeys") ?? {};
  if (!Object.keys(accessKeys).length) r.problem("accessKeys", "must hold at least one key id");
  const ttl = r.duration("ttl", { default: "0s" }) || "0s";
  const spec: SignatureSpec = {
    accessKeys,
    ttl,
    excludeBody: r.bool("excludeBody", false),
    literal: r.object("literal", readLiteral) ?? { ...DEFAULT_SIGNATURE_LITERAL },
  };
  const ignoredHeaders = r.stringArray("ignoredHeaders");
  if (ignoredHeaders?.length) spec.ignoredHeaders = ignoredHeaders;
  const hoisting = r.object("headerHoisting", readHeaderHoisting);
  if (hoisting && Object.keys(hoisting).length) spec.headerHoisting = hoisting;
  const accessKeyId = r.string("accessKeyId");
  const accessKeySecret = r.string("accessKeySecret");
  if (accessKeyId) spec.accessKeyId = accessKeyId;
  if (accessKeySecret) spec.accessKeySecret = accessKeySecret;
  return spec;
}

const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
const TIME_FORMAT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses "20060102T150405Z" (UTC) into epoch milliseconds. */
function parseSignTime(text: string): number | undefined {
  const m = TIME_FORMAT.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return new Date(ms).toISOString().slice(0, 19) === formatIso(m) ? ms : undefined;
}

function formatIso(m: RegExpExecArray): string {
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
}

// Go's integer literals, as `strconv.ParseUint(text, 0, 64)` takes them: a
// leading "0" means octal, "0x", "0o" and "0b" their bases, "_" between digits.
const GO_UINT =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO]?(?:_?[0-7])+|[1-9](?:_?[0-9])*|0)$/;
const MAX_UINT64 = (1n << 64n) - 1n;

/** `strconv.ParseUint(text, 0, 64)`, or undefined where Go refuses the text. */
function parseGoUint(text: string): number | undefined {
  if (!GO_UINT.test(text)) return undefined;
  let digits = text.replaceAll("_", "");
  // BigInt reads "0x", "0o" and "0b", not a bare leading zero.
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const value = BigInt(digits);
  return value > MAX_UINT64 ? undefined : Number(value);
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const utf8 = new TextEncoder();

function percentEncode(text: string, keep: RegExp, spaceAsPlus: boolean): string {
  let out = "";
  for (const byte of utf8.encode(text)) {
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && keep.test(ch)) out += ch;
    else if (spaceAsPlus && byte === 0x20) out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Go's `url.QueryEscape`. */
function queryEscape(text: string): string {
  return percentEncode(text, UNRESERVED, true);
}

/** Go's `url.Values.Encode` after sorting each key's values. */
function encodeQuery(values: Map<string, string[]>): string {
  const parts: string[] = [];
  for (const key of [...values.keys()].sort()) {
    const k = queryEscape(key);
    for (const v of [...values.get(key)!].sort()) parts.push(`${k}=${queryEscape(v)}`);
  }
  return parts.join("&");
}

/** Trims spaces and folds runs of spaces to one, as the signer does. */
function canonicalHeaderValue(value: string): string {
  return value.replace(/^ +| +$/g, "").replace(/ {2,}/g, " ");
}

/**
 * Easegress's `buildCanonicalHeaderValue(req.Header[name])`: each field of
 * `name` canonicalized and the fields joined with "," (no space); "" when
 * there is none.
 */
function canonicalHeaderValues(headers: Headers, name: string): string {
  if (!(headers instanceof HeaderFields)) return canonicalHeaderValue(headers.get(name) ?? "");
  let out: string | undefined;
  headers.someField(name, (value) => {
    const canonical = canonicalHeaderValue(value);
    out = out === undefined ? canonical : `${out},${canonical}`;
    return false;
  });
  return out ?? "";
}

/** Easegress's `buildCanonicalURI`: the escaped path with every byte but unreserved ones and "/" escaped. */
function canonicalUri(path: string): string {
  const escaped = goEscapedPath(path);
  return escaped ? percentEncode(escaped, /[A-Za-z0-9\-._~/]/, false) : "/";
}

/** The Host without the scheme's default port. */
function canonicalHost(req: HttpRequest): string {
  const host = req.host;
  const colon = host.lastIndexOf(":");
  if (colon <= host.lastIndexOf("]")) return host;
  const port = host.slice(colon + 1);
  const scheme = req.scheme.toLowerCase();
  if (
    port === "" || (scheme === "http" && port === "80") || (scheme === "https" && port === "443")
  ) {
    return host.slice(0, colon);
  }
  return host;
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

function hmacHex(key: Uint8Array, data: string): string {
  return createHmac("sha256", key).update(data).digest("hex");
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** What a signed request claims, read from its header or query. */
interface SignedParts {
  accessKeyId: string;
  scopes: string[];
  signedHeaders: string;
  signature: string;
  time: number;
  presign: boolean;
  expiresSeconds: number;
}

/** Verifies request signatures as a {@linkcode SignatureSpec} says. */
export class SignatureVerifier {
  readonly #keys: ReadonlyMap<string, string>;
  readonly #ttlMs: number;
  readonly #excludeBody: boolean;
  readonly #literal: SignatureLiteral;

  /** Prepares `spec` (read by {@linkcode readSignatureSpec}). */
  constructor(spec: SignatureSpec) {
    this.#keys = new Map(Object.entries(spec.accessKeys));
    this.#ttlMs = parseDuration(spec.ttl) ?? 0;
    this.#excludeBody = spec.excludeBody;
    this.#literal = spec.literal;
  }

  #fromHeader(authorization: string, req: HttpRequest): SignedParts {
    const bad = new Error("invalid header format: Authorization");
    const space = authorization.indexOf(" ");
    if (space < 0 || authorization.slice(0, space) !== this.#literal.algorithmValue) throw bad;
    const parts = authorization.slice(space + 1).split(",").map((p) => p.trim());
    if (parts.length !== 3) throw bad;
    const [credential, signedHeaders, signature] = parts;
    if (
      !credential.startsWith("Credential=") || !signedHeaders.startsWith("SignedHeaders=") ||
      !signature.startsWith("Signature=")
    ) throw bad;
    const scopes = credential.slice(11).split("/");
    if (scopes.length < 3) throw bad;
    const date = req.firstHeader(this.#literal.date) ?? "";
    if (!date.startsWith(scopes[1])) throw new Error("signature timestamp mismatch");
    const time = parseSignTime(date);
    if (time === undefined) throw new Error(`invalid header format: ${this.#literal.date}`);
    return {
      accessKeyId: scopes[0],
      scopes: scopes.slice(2, -1),
      signedHeaders: signedHeaders.slice(14),
      signature: signature.slice(10),
      time,
      presign: false,
      expiresSeconds: 0,
    };
  }

  #fromQuery(query: Map<string, string[]>): SignedParts {
    const l = this.#literal;
    const get = (name: string) => query.get(name)?.[0] ?? "";
    const bad = (name: string) => new Error(`invalid query value: ${name}`);
    if (get(l.algorithmName) !== l.algorithmValue) throw bad(l.algorithmName);
    const scopes = get(l.credential).split("/");
    if (scopes.length < 3) throw bad(l.credential);
    const date = get(l.date);
    if (!date.startsWith(scopes[1])) throw new Error("signature timestamp mismatch");
    const time = parseSignTime(date);
    if (time === undefined) throw bad(l.date);
    const expires = parseGoUint(get(l.expires));
    if (expires === undefined) throw bad(l.expires);
    return {
      accessKeyId: scopes[0],
      scopes: scopes.slice(2, -1),
      signedHeaders: get(l.signedHeaders),
      signature: get(l.signature),
      time,
      presign: true,
      expiresSeconds: expires,
    };
  }

  async #bodyHash(req: HttpRequest): Promise<string> {
    if (this.#excludeBody) return UNSIGNED_PAYLOAD;
    // Easegress: `if req.IsStream() { vCtx.ExcludeBody(true) }`. Its requests
    // are streams exactly when the route's clientMaxBodySize is -1, whatever
    // the method or however much of the body came with the head: the server
    // marks those with a replayLimit of -1. Other bodies Easegress has read
    // whole (up to the limit) before the pipeline; read them here the same way.
    const limit = req.replayLimit;
    if (limit < 0) return UNSIGNED_PAYLOAD;
    try {
      return sha256Hex(await req.bytes(limit));
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw new Error("request body too large");
      throw e;
    }
  }

  #canonicalHeaders(req: HttpRequest, signedHeaders: string): string {
    const headers = req.rawHeaders;
    let out = "";
    for (const name of signedHeaders.split(";")) {
      let value = "";
      if (name === "host") value = canonicalHost(req);
      // Go's server keeps Host out of the header map, so "Host" (or "HOST")
      // finds nothing; a name that cannot be a header has no value either
      // (Headers.get would throw).
      else if (name.toLowerCase() !== "host" && !headerNameProblem(name)) {
        // The fields hold their UTF-8 bytes as characters; the hash wants those bytes.
        value = headerValueText(canonicalHeaderValues(headers, name));
      }
      out += `${name}:${value}\n`;
    }
    return out;
  }

  #canonicalQuery(query: Map<string, string[]>, parts: SignedParts, scope: string): string {
    const l = this.#literal;
    const values = new Map(query);
    values.delete(l.signature);
    if (parts.presign) {
      values.set(l.algorithmName, [l.algorithmValue]);
      values.set(l.date, [formatSignTime(parts.time)]);
      values.set(l.credential, [`${parts.accessKeyId}/${scope}`]);
      values.set(l.expires, [String(parts.expiresSeconds)]);
      values.set(l.signedHeaders, [parts.signedHeaders]);
    } else {
      for (const name of [l.algorithmName, l.credential, l.date, l.expires, l.signedHeaders]) {
        values.delete(name);
      }
    }
    return encodeQuery(values);
  }

  /**
   * Checks the request's signature; throws an Error saying what is wrong
   * (bad format, timestamp mismatch, expired, unknown key, mismatch).
   * `now` is the current time in epoch milliseconds.
   */
  async verify(req: HttpRequest, now = Date.now()): Promise<void> {
    const l = this.#literal;
    const query = parseGoQuery(req.query);
    // Go's Header.Get: the first field alone.
    const authorization = req.firstHeader("authorization");
    const parts = authorization ? this.#fromHeader(authorization, req) : this.#fromQuery(query);
    const age = now - parts.time;
    if (this.#ttlMs > 0 && Math.abs(age) > this.#ttlMs) throw new Error("signature expired");
    if (parts.presign && age > parts.expiresSeconds * 1000) throw new Error("signature expired");
    const secret = this.#keys.get(parts.accessKeyId);
    if (secret === undefined) throw new Error("access-key-id not found");

    const date = formatSignTime(parts.time).slice(0, 8);
    const scope = [date, ...parts.scopes, l.scopeSuffix].join("/");
    const canonicalRequest = [
      req.method,
      canonicalUri(req.path),
      this.#canonicalQuery(query, parts, scope),
      this.#canonicalHeaders(req, parts.signedHeaders),
      parts.signedHeaders,
      await this.#bodyHash(req),
    ].join("\n");
    const stringToSign = [
      l.algorithmValue,
      formatSignTime(parts.time),
      scope,
      sha256Hex(canonicalRequest),
    ].join("\n");
    let key = hmac(l.signingKeyPrefix + secret, date);
    for (const s of parts.scopes) key = hmac(key, s);
    key = hmac(key, l.scopeSuffix);
    const expected = hmacHex(key, stringToSign);
    if (!constantTimeEqual(expected, parts.signature)) {
      throw new Error("signature verification failed");
    }
  }
}

/** Formats epoch milliseconds as "20060102T150405Z". */
function formatSignTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").slice(0, 15) + "Z";
}
