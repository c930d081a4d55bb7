/**
 * Verification of JSON Web Tokens with Web Crypto: HMAC-signed (HS256,
 * HS384, HS512) with a secret, and, as Easegress's Validator since v2.1,
 * signed with a private key (RS256/384/512, ES256/384/512, EdDSA) checked
 * with its public key. The time claims are checked the way Easegress's
 * golang-jwt v4 does: `exp` (now must be before it), `nbf` and `iat` (now
 * must not be before them). A time claim that is present must be a number
 * (`null`, a string... make the token invalid); 0 counts as absent.
 *
 * @module
 */

import { createPublicKey, type KeyObject } from "node:crypto";
import type { SpecReader } from "./spec.ts";

/** The HMAC algorithms a token may be signed with. */
export const JWT_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

/** One of {@linkcode JWT_ALGORITHMS}. */
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number];

/** The algorithms of tokens signed with a private key, checked with its public key. */
export const PUBLIC_KEY_JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

/** One of {@linkcode PUBLIC_KEY_JWT_ALGORITHMS}. */
export type PublicKeyJwtAlgorithm = typeof PUBLIC_KEY_JWT_ALGORITHMS[number];

/** Every algorithm the Validator's `jwt` takes, as Easegress's. */
export const ALL_JWT_ALGORITHMS = [...JWT_ALGORITHMS, ...PUBLIC_KEY_JWT_ALGORITHMS] as const;

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
  return { algorithm: (algorithm ?? "HS256") as JwtAlgorithm, secret: readSecret(r) };
}

function readSecret(r: SpecReader): string {
  return r.string("secret", {
    required: true,
    pattern: HEX_BYTES,
    patternName: "a non-empty hex string of whole bytes",
  }) ?? "";
}

/** A JWT spec of any algorithm: a secret for HMAC ones, a public key for the others. */
export type JwtSpec = HmacJwtSpec | {
  /** The only algorithm accepted. */
  algorithm: PublicKeyJwtAlgorithm;
  /**
   * The public key, hex encoded as Easegress takes it: the hex of its PEM
   * text (`xxd -p key.pem | tr -d '\n'`), a `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY`
   * block; the hex of the DER bytes is taken too.
   */
  publicKey: string;
};

/** What a public key must be for each algorithm: its key type, and for ECDSA its curve. */
const KEY_TYPE_OF: Record<PublicKeyJwtAlgorithm, [type: string, curve?: string]> = {
  RS256: ["rsa"],
  RS384: ["rsa"],
  RS512: ["rsa"],
  ES256: ["ec", "prime256v1"],
  ES384: ["ec", "secp384r1"],
  ES512: ["ec", "secp521r1"],
  EdDSA: ["ed25519"],
};

/** The names users know the curves by. */
const CURVE_NAMES: Record<string, string> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

const PEM_PUBLIC_KEY = /^-----BEGIN (?:RSA )?PUBLIC KEY-----/;
const PEM_ANY = /^-----BEGIN ([^-]*)-----/;
const latin1 = new TextDecoder("latin1");

/**
 * The public key of a spec's hex `publicKey` for `algorithm`; throws a
 * TypeError saying what is wrong (not hex, not a public key, a key of
 * another type or curve).
 */
export function jwtPublicKey(hex: string, algorithm: PublicKeyJwtAlgorithm): KeyObject {
  if (!HEX_BYTES.test(hex)) throw new TypeError("must be a hex string of whole bytes");
  const bytes = Uint8Array.fromHex(hex);
  const text = latin1.decode(bytes).trim();
  let key: KeyObject;
  try {
    if (text.startsWith("-----BEGIN")) {
      if (!PEM_PUBLIC_KEY.test(text)) {
        const label = PEM_ANY.exec(text)?.[1] ?? "";
        throw new TypeError(`holds a PEM ${label} block, not a PUBLIC KEY`);
      }
      key = createPublicKey(text);
    } else key = createPublicKey({ key: bytes as Buffer, format: "der", type: "spki" });
  } catch (e) {
    if (e instanceof TypeError && e.message.startsWith("holds")) throw e;
    throw new TypeError("is not a public key in PEM (hex encoded) or DER");
  }
  const [type, curve] = KEY_TYPE_OF[algorithm];
  const actual = key.asymmetricKeyType ?? "";
  const actualCurve = key.asymmetricKeyDetails?.namedCurve;
  if (actual !== type || actualCurve !== curve) {
    const needs = keyTypeName(type, curve);
    throw new TypeError(
      `is ${keyTypeName(actual, actualCurve)} key, ${algorithm} needs ${needs} key`,
    );
  }
  return key;
}

function keyTypeName(type: string, curve: string | undefined): string {
  if (type === "rsa") return "an RSA";
  if (type === "ec") return `an EC ${CURVE_NAMES[curve ?? ""] ?? curve ?? ""}`.trimEnd();
  if (type === "ed25519") return "an Ed25519";
  return `a ${type || "unknown"}`;
}

/**
 * Reads `algorithm` (required) and its key at `r`: `secret` (hex) for the
 * HMAC algorithms, `publicKey` (hex) for the others, each refused where the
 * algorithm does not use it.
 */
export function readJwtSpec(r: SpecReader): JwtSpec {
  const algorithm = r.string("algorithm", { required: true, oneOf: ALL_JWT_ALGORITHMS });
  if (!PUBLIC_KEY_JWT_ALGORITHMS.includes(algorithm as PublicKeyJwtAlgorithm)) {
    const secret = readSecret(r);
    if (r.string("publicKey")) {
      r.problem("publicKey", "is only used with RS, ES and EdDSA algorithms");
    }
    return { algorithm: (algorithm ?? "HS256") as JwtAlgorithm, secret };
  }
  const publicAlgorithm = algorithm as PublicKeyJwtAlgorithm;
  const publicKey = r.string("publicKey", { required: true }) ?? "";
  if (publicKey) {
    try {
      jwtPublicKey(publicKey, publicAlgorithm);
    } catch (e) {
      r.problem("publicKey", (e as Error).message);
    }
  }
  if (r.string("secret")) r.problem("secret", "is only used with HS algorithms");
  return { algorithm: publicAlgorithm, publicKey };
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

/** How Web Crypto verifies each public-key algorithm's signatures. */
const VERIFY_PARAMS: Record<
  PublicKeyJwtAlgorithm,
  [import: RsaHashedImportParams | EcKeyImportParams | Algorithm, verify: Algorithm | EcdsaParams]
> = {
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
  RS384: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, { name: "RSASSA-PKCS1-v1_5" }],
  RS512: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, { name: "RSASSA-PKCS1-v1_5" }],
  // JWS signatures are r and s side by side (RFC 7518), as Web Crypto reads them.
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  ES384: [{ name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }],
  ES512: [{ name: "ECDSA", namedCurve: "P-521" }, { name: "ECDSA", hash: "SHA-512" }],
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
};

/** Verifies tokens signed with one algorithm and key. */
export class JwtVerifier {
  readonly #algorithm: string;
  readonly #key: Promise<CryptoKey>;
  readonly #params: Algorithm | EcdsaParams;

  /** A verifier of `algorithm` tokens, `params` saying how Web Crypto checks them with `key`. */
  constructor(algorithm: string, key: Promise<CryptoKey>, params: Algorithm | EcdsaParams) {
    this.#algorithm = algorithm;
    this.#key = key;
    this.#params = params;
    key.catch(() => {}); // surfaced by verify(); never an unhandled rejection
  }

  /** A verifier for a spec read by {@linkcode readJwtSpec} or {@linkcode readHmacJwtSpec}. */
  static fromSpec(spec: JwtSpec): JwtVerifier {
    if ("secret" in spec) {
      return new HmacJwtVerifier(spec.algorithm, Uint8Array.fromHex(spec.secret));
    }
    const [importParams, verifyParams] = VERIFY_PARAMS[spec.algorithm];
    const der = jwtPublicKey(spec.publicKey, spec.algorithm).export({
      type: "spki",
      format: "der",
    });
    const key = crypto.subtle.importKey(
      "spki",
      new Uint8Array(der) as Uint8Array<ArrayBuffer>,
      importParams,
      false,
      ["verify"],
    );
    return new JwtVerifier(spec.algorithm, key, verifyParams);
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
    const key = await this.#key;
    let ok: boolean;
    try {
      ok = await crypto.subtle.verify(
        this.#params,
        key,
        signature as Uint8Array<ArrayBuffer>,
        signed,
      );
    } catch {
      ok = false; // a signature of the wrong size, say
    }
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

/** Verifies tokens signed with one HMAC algorithm and key. */
export class HmacJwtVerifier extends JwtVerifier {
  /** Prepares the key once; `secret` is the raw key (not hex). */
  constructor(algorithm: JwtAlgorithm, secret: Uint8Array) {
    const key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: HASH_OF[algorithm] },
      false,
      ["verify"],
    );
    super(algorithm, key, { name: "HMAC" });
  }
}
