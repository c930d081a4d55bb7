/**
 * Verification of HMAC-signed JSON Web Tokens (HS256, HS384, HS512) with Web
 * Crypto, checking the time claims the way Easegress's golang-jwt v4 does:
 * `exp` (now must be before it), `nbf` and `iat` (now must not be before
 * them). A time claim that is present must be a number (`null`, a string...
 * make the token invalid); 0 counts as absent.
 *
 * @module
 */

import type { SpecReader } from "./spec.ts";

/** The HMAC algorithms a token may be signed with. */
export const JWT_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

/** One of {@linkcode JWT_ALGORITHMS}. */
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number];

/** The claims of a verified token. */
export type JwtClaims = Record<string, unknown>;

/** Why a token was rejected. */
export class JwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtError";
  }
}

/** The algorithm and hex secret of an HMAC JWT spec. */
export interface HmacJwtSpec {
  /** The only algorithm accepted. */
  algorithm: JwtAlgorithm;
  /** The HMAC key, hex encoded. */
  secret: string;
}

const HEX_BYTES = /^(?:[0-9A-Fa-f]{2})+$/;

/** Reads `algorithm` (required) and `secret` (required, hex) at `r`. */
export function readHmacJwtSpec(r: SpecReader): HmacJwtSpec {
  const algorithm = r.string("algorithm", { required: true, oneOf: JWT_ALGORITHMS });
  const secret = r.string("secret", {
    required: true,
    pattern: HEX_BYTES,
    patternName: "a non-empty hex string of whole bytes",
  });
  return { algorithm: (algorithm ?? "HS256") as JwtAlgorithm, secret: secret ?? "" };
}

const HASH_OF: Record<JwtAlgorithm, string> = {
  HS256: "SHA-256",
  HS384: "SHA-384",
  HS512: "SHA-512",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** base64url, padded or not: nothing else (`fromBase64` would skip spaces, Go's decoder does not). */
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function decodeSegment(segment: string, what: string): Uint8Array {
  try {
    // jwt-go accepts segments with or without padding.
    if (BASE64URL.test(segment)) return Uint8Array.fromBase64(segment, { alphabet: "base64url" });
  } catch {
    // reported below
  }
  throw new JwtError(`token ${what} is not base64url`);
}

function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(decodeSegment(segment, what)));
  } catch (e) {
    if (e instanceof JwtError) throw e;
    throw new JwtError(`token ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtError(`token ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * A time claim in whole seconds, or undefined when absent. As golang-jwt v4's
 * MapClaims: a claim that is there but not a JSON number (null included)
 * fails, and 0 is taken for absent.
 */
function timeClaim(claims: JwtClaims, name: string): number | undefined {
  if (!Object.hasOwn(claims, name)) return undefined;
  const value = claims[name];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new JwtError(`token claim ${name} is not a number`);
  }
  return value === 0 ? undefined : Math.trunc(value);
}

/** Verifies tokens signed with one HMAC algorithm and key. */
export class HmacJwtVerifier {
  readonly #algorithm: JwtAlgorithm;
  readonly #key: Promise<CryptoKey>;

  /** Prepares the key once; `secret` is the raw key (not hex). */
  constructor(algorithm: JwtAlgorithm, secret: Uint8Array) {
    this.#algorithm = algorithm;
    this.#key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: HASH_OF[algorithm] },
      false,
      ["verify"],
    );
    this.#key.catch(() => {}); // surfaced by verify(); never an unhandled rejection
  }

  /** A verifier for a spec read by {@linkcode readHmacJwtSpec}. */
  static fromSpec(spec: HmacJwtSpec): HmacJwtVerifier {
    return new HmacJwtVerifier(spec.algorithm, Uint8Array.fromHex(spec.secret));
  }

  /**
   * Checks `token`'s algorithm, signature and time claims and returns its
   * claims; throws {@linkcode JwtError} saying what is wrong.
   * `nowSeconds` is the current Unix time.
   */
  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<JwtClaims> {
    const firstDot = token.indexOf(".");
    const lastDot = token.lastIndexOf(".");
    if (firstDot < 0 || firstDot === lastDot || token.indexOf(".", firstDot + 1) !== lastDot) {
      throw new JwtError("token contains an invalid number of segments");
    }
    const header = decodeJsonSegment(token.slice(0, firstDot), "header");
    if (header.alg !== this.#algorithm) {
      throw new JwtError(`unexpected signing method: ${String(header.alg)}`);
    }
    const signature = decodeSegment(token.slice(lastDot + 1), "signature");
    const signed = encoder.encode(token.slice(0, lastDot));
    const ok = await crypto.subtle.verify(
      "HMAC",
      await this.#key,
      signature as Uint8Array<ArrayBuffer>,
      signed,
    );
    if (!ok) throw new JwtError("signature is invalid");
    const claims = decodeJsonSegment(token.slice(firstDot + 1, lastDot), "payload");
    const exp = timeClaim(claims, "exp");
    // golang-jwt v4 wants now strictly before exp: a token is expired in its exp second.
    if (exp !== undefined && nowSeconds >= exp) throw new JwtError("token is expired");
    const nbf = timeClaim(claims, "nbf");
    if (nbf !== undefined && nowSeconds < nbf) throw new JwtError("token is not valid yet");
    const iat = timeClaim(claims, "iat");
    if (iat !== undefined && nowSeconds < iat) throw new JwtError("token used before issued");
    return claims;
  }
}
