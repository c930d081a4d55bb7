/**
 * Signs JWTs for tests: with an HMAC secret, or a private key.
 *
 * @module
 */

const encoder = new TextEncoder();
const HASH = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512" } as const;

function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** A JWT with `claims`, signed with `secret` using `alg`. */
export async function signJwt(
  claims: Record<string, unknown>,
  secret: Uint8Array,
  alg: keyof typeof HASH = "HS256",
): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg, typ: "JWT" })));
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: HASH[alg] },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}

/** The public-key algorithms with how Web Crypto makes their keys and signs. */
const KEY_ALGORITHMS = {
  RS256: [{
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  }, { name: "RSASSA-PKCS1-v1_5" }],
  RS512: [{
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-512",
  }, { name: "RSASSA-PKCS1-v1_5" }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  ES384: [{ name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }],
  ES512: [{ name: "ECDSA", namedCurve: "P-521" }, { name: "ECDSA", hash: "SHA-512" }],
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
} as const;

/** A public-key algorithm {@linkcode keyPairFor} makes keys for. */
export type KeyAlgorithm = keyof typeof KEY_ALGORITHMS;

/** A key pair for `alg`, its public key as a spec's `publicKey` takes it: its PEM text in hex. */
export async function keyPairFor(
  alg: KeyAlgorithm,
): Promise<{ privateKey: CryptoKey; publicKeyHex: string }> {
  const pair = await crypto.subtle.generateKey(KEY_ALGORITHMS[alg][0], true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pem = `-----BEGIN PUBLIC KEY-----\n${
    spki.toBase64().replace(/.{64}/g, "$&\n")
  }\n-----END PUBLIC KEY-----\n`;
  return { privateKey: pair.privateKey, publicKeyHex: encoder.encode(pem).toHex() };
}

/** A JWT with `claims`, signed with `privateKey` using `alg`. */
export async function signJwtWithKey(
  claims: Record<string, unknown>,
  privateKey: CryptoKey,
  alg: KeyAlgorithm,
): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg, typ: "JWT" })));
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign(
    KEY_ALGORITHMS[alg][1],
    privateKey,
    encoder.encode(`${header}.${payload}`),
  );
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}
