/**
 * The ACME account key (ECDSA P-256): made once, kept in the store as a
 * private JWK, and read back on every later order (after a restart, or a
 * changed spec).
 *
 * @module
 */

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

/** A new account key pair and its private JWK, to store. */
export async function newAccountKey(): Promise<{ keys: CryptoKeyPair; jwk: JsonWebKey }> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  return { keys, jwk: await crypto.subtle.exportKey("jwk", keys.privateKey) };
}

/** The key pair of a stored private JWK. */
export async function importAccountKey(jwk: JsonWebKey): Promise<CryptoKeyPair> {
  // The exported JWK says `key_ops: ["sign"]`, which the public half
  // (imported for "verify") must not carry; `ext` goes with it.
  const { d: _d, key_ops: _ops, ext: _ext, ...publicJwk } = jwk;
  return {
    privateKey: await crypto.subtle.importKey("jwk", jwk, ALGORITHM, true, ["sign"]),
    publicKey: await crypto.subtle.importKey("jwk", publicJwk, ALGORITHM, true, ["verify"]),
  };
}
