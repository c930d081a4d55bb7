/**
 * Signs HMAC JWTs for tests.
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
