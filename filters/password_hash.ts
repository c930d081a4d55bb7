/**
 * Checking a password against an htpasswd hash. Supported: bcrypt
 * (`$2a$`, `$2b$`, `$2y$`), Apache MD5 (`$apr1$`) and MD5-crypt (`$1$`),
 * SHA-256/512-crypt (`$5$`, `$6$`), `{SHA}` and `{SSHA}`. Not supported:
 * DES crypt and plain text (both unsafe; Apache only writes plain text on
 * Windows).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The hash schemes {@linkcode verifyPassword} understands. */
export type HashScheme =
  | "bcrypt"
  | "apr1"
  | "md5-crypt"
  | "sha256-crypt"
  | "sha512-crypt"
  | "sha1"
  | "ssha";

/** The scheme of `hash`, or undefined when it is not a supported one. */
export function hashScheme(hash: string): HashScheme | undefined {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return "bcrypt";
  if (hash.startsWith("$apr1$")) return "apr1";
  if (hash.startsWith("$1$")) return "md5-crypt";
  if (hash.startsWith("$5$")) return "sha256-crypt";
  if (hash.startsWith("$6$")) return "sha512-crypt";
  if (hash.startsWith("{SHA}")) return "sha1";
  if (hash.startsWith("{SSHA}")) return "ssha";
  return undefined;
}

/** Whether checking a `scheme` hash costs enough CPU to be worth caching. */
export function isSlowScheme(scheme: HashScheme): boolean {
  return scheme !== "sha1" && scheme !== "ssha";
}

const encoder = new TextEncoder();
const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** crypt's base64: `count` characters of `value`, low 6 bits first. */
function cryptBase64(value: number, count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) {
    out += CRYPT_ALPHABET[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/** Encodes `digest` as crypt does: triples of bytes at the given positions. */
function encodeCryptDigest(digest: Uint8Array, triples: readonly number[][]): string {
  let out = "";
  for (const t of triples) {
    if (t.length === 3) {
      out += cryptBase64((digest[t[0]] << 16) | (digest[t[1]] << 8) | digest[t[2]], 4);
    } else if (t.length === 2) out += cryptBase64((digest[t[0]] << 8) | digest[t[1]], 3);
    else out += cryptBase64(digest[t[0]], 2);
  }
  return out;
}

const MD5_TRIPLES = [[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 5], [11]];

/** MD5-crypt (`$1$`) and Apache's variant (`$apr1$`), which differ only in the magic. */
export function md5Crypt(password: string, magic: "$1$" | "$apr1$", salt: string): string {
  salt = salt.slice(0, 8);
  const pw = encoder.encode(password);
  const saltBytes = encoder.encode(salt);
  const alt = createHash("md5").update(pw).update(saltBytes).update(pw).digest();
  const ctx = createHash("md5").update(pw).update(magic).update(saltBytes);
  for (let i = pw.length; i > 0; i -= 16) ctx.update(alt.subarray(0, Math.min(16, i)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? new Uint8Array(1) : pw.subarray(0, 1));
  let final: Uint8Array = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const round = createHash("md5");
    round.update(i & 1 ? pw : final);
    if (i % 3) round.update(saltBytes);
    if (i % 7) round.update(pw);
    round.update(i & 1 ? final : pw);
    final = round.digest();
  }
  return `${magic}${salt}$${encodeCryptDigest(final, MD5_TRIPLES)}`;
}

const SHA256_TRIPLES = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
  [31, 30],
];
const SHA512_TRIPLES = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
  [63],
];

/** `source` repeated to exactly `length` bytes. */
function repeatTo(source: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += source.length) {
    out.set(source.subarray(0, Math.min(source.length, length - at)), at);
  }
  return out;
}

/**
 * SHA-crypt (Drepper's `$5$` / `$6$`). `settings` is the part of a hash
 * after the magic: `[rounds=N$]salt[$...]`.
 */
export function shaCrypt(password: string, magic: "$5$" | "$6$", settings: string): string {
  const algorithm = magic === "$5$" ? "sha256" : "sha512";
  const size = magic === "$5$" ? 32 : 64;
  let rounds = 5000;
  let customRounds = false;
  const roundsMatch = /^rounds=(\d+)\$/.exec(settings);
  if (roundsMatch) {
    rounds = Math.min(999_999_999, Math.max(1000, Number(roundsMatch[1])));
    customRounds = true;
    settings = settings.slice(roundsMatch[0].length);
  }
  const dollar = settings.indexOf("$");
  const salt = (dollar < 0 ? settings : settings.slice(0, dollar)).slice(0, 16);
  const pw = encoder.encode(password);
  const saltBytes = encoder.encode(salt);
  const hash = () => createHash(algorithm);

  const b = hash().update(pw).update(saltBytes).update(pw).digest();
  const a = hash().update(pw).update(saltBytes);
  a.update(repeatTo(b, pw.length));
  for (let i = pw.length; i > 0; i >>= 1) a.update(i & 1 ? b : pw);
  const digestA = a.digest();

  const dp = hash();
  for (let i = 0; i < pw.length; i++) dp.update(pw);
  const p = repeatTo(dp.digest(), pw.length);
  const ds = hash();
  for (let i = 0; i < 16 + digestA[0]; i++) ds.update(saltBytes);
  const s = repeatTo(ds.digest(), saltBytes.length);

  let c: Uint8Array = digestA;
  for (let i = 0; i < rounds; i++) {
    const round = hash();
    round.update(i & 1 ? p : c);
    if (i % 3) round.update(s);
    if (i % 7) round.update(p);
    round.update(i & 1 ? c : p);
    c = round.digest();
  }
  const encoded = encodeCryptDigest(c, size === 32 ? SHA256_TRIPLES : SHA512_TRIPLES);
  return `${magic}${customRounds ? `rounds=${rounds}$` : ""}${salt}$${encoded}`;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function verifySsha(password: string, encoded: string): boolean {
  let raw: Uint8Array;
  try {
    raw = Uint8Array.fromBase64(encoded);
  } catch {
    return false;
  }
  if (raw.length <= 20) return false;
  const digest = createHash("sha1").update(encoder.encode(password)).update(raw.subarray(20))
    .digest();
  let diff = 0;
  for (let i = 0; i < 20; i++) diff |= digest[i] ^ raw[i];
  return diff === 0;
}

/** The salt of a crypt hash: from `start` to the next "$" (or the end). */
function saltAfter(hash: string, start: number): string {
  const end = hash.indexOf("$", start);
  return hash.slice(start, end < 0 ? undefined : end);
}

/** Whether `password` matches `hash`; false for unsupported or malformed hashes. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  switch (hashScheme(hash)) {
    case "bcrypt": {
      // Imported on first use: an npm package costs every isolate that loads it.
      const { default: bcrypt } = await import("bcryptjs");
      return await bcrypt.compare(password, hash);
    }
    case "apr1":
      return constantTimeEqual(md5Crypt(password, "$apr1$", saltAfter(hash, 6)), hash);
    case "md5-crypt":
      return constantTimeEqual(md5Crypt(password, "$1$", saltAfter(hash, 3)), hash);
    case "sha256-crypt":
      return constantTimeEqual(shaCrypt(password, "$5$", hash.slice(3)), hash);
    case "sha512-crypt":
      return constantTimeEqual(shaCrypt(password, "$6$", hash.slice(3)), hash);
    case "sha1": {
      const digest = createHash("sha1").update(encoder.encode(password)).digest("base64");
      return constantTimeEqual(`{SHA}${digest}`, hash);
    }
    case "ssha":
      return verifySsha(password, hash.slice(6));
    default:
      return false;
  }
}
