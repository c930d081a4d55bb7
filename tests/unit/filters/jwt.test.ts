import assert from "node:assert/strict";
import { HmacJwtVerifier, JwtError } from "../../../filters/jwt.ts";
import { signJwt } from "./_jwt.ts";

const SECRET = new TextEncoder().encode("0123456789abcdef");
const NOW = 1_700_000_000;

Deno.test("HmacJwtVerifier returns the claims of a valid token", async () => {
  for (const alg of ["HS256", "HS384", "HS512"] as const) {
    const token = await signJwt({ sub: "u1", exp: NOW + 10 }, SECRET, alg);
    const claims = await new HmacJwtVerifier(alg, SECRET).verify(token, NOW);
    assert.equal(claims.sub, "u1");
  }
});

Deno.test("HmacJwtVerifier rejects another algorithm, key or a changed payload", async () => {
  const verifier = new HmacJwtVerifier("HS256", SECRET);
  const other = await signJwt({}, SECRET, "HS512");
  await assert.rejects(verifier.verify(other, NOW), /unexpected signing method: HS512/);
  const wrongKey = await signJwt({}, new Uint8Array([1, 2]), "HS256");
  await assert.rejects(verifier.verify(wrongKey, NOW), /signature is invalid/);
  const token = await signJwt({ admin: false }, SECRET, "HS256");
  const [h, , s] = token.split(".");
  const forged = `${h}.${btoa('{"admin":true}').replace(/=+$/, "")}.${s}`;
  await assert.rejects(verifier.verify(forged, NOW), /signature is invalid/);
  const none = `${btoa('{"alg":"none"}').replace(/=+$/, "")}.e30.`;
  await assert.rejects(verifier.verify(none, NOW), /unexpected signing method: none/);
});

Deno.test("HmacJwtVerifier checks exp, nbf and iat", async () => {
  const verifier = new HmacJwtVerifier("HS256", SECRET);
  const at = async (claims: Record<string, unknown>) =>
    verifier.verify(await signJwt(claims, SECRET), NOW);
  assert.ok(await at({ exp: NOW + 1 }));
  // golang-jwt v4: now must be before exp, so a token is expired in its exp second.
  await assert.rejects(at({ exp: NOW }), /token is expired/);
  await assert.rejects(at({ exp: NOW - 1 }), /token is expired/);
  assert.ok(await at({ nbf: NOW }));
  await assert.rejects(at({ nbf: NOW + 1 }), /token is not valid yet/);
  await assert.rejects(at({ iat: NOW + 1 }), /token used before issued/);
  await assert.rejects(at({ exp: "soon" }), /claim exp is not a number/);
});

Deno.test("HmacJwtVerifier rejects a time claim that is there but not a number, as golang-jwt v4", async () => {
  const verifier = new HmacJwtVerifier("HS256", SECRET);
  const at = async (claims: Record<string, unknown>) =>
    verifier.verify(await signJwt(claims, SECRET), NOW);
  for (const name of ["exp", "nbf", "iat"]) {
    for (const value of [null, "1700000000", true, [NOW], { t: NOW }]) {
      await assert.rejects(
        at({ [name]: value }),
        new RegExp(`claim ${name} is not a number`),
        `${name}: ${JSON.stringify(value)}`,
      );
    }
    // 0 is taken for an absent claim; a fraction counts in whole seconds.
    assert.ok(await at({ [name]: 0 }));
  }
  assert.ok(await at({ exp: NOW + 1.9, nbf: NOW + 0.9, iat: NOW + 0.9 }));
  await assert.rejects(at({ exp: NOW + 0.9 }), /token is expired/);
});

Deno.test("HmacJwtVerifier takes only base64url segments (no spaces, as Go's decoder)", async () => {
  const verifier = new HmacJwtVerifier("HS256", SECRET);
  const token = await signJwt({ sub: "u1" }, SECRET);
  assert.equal((await verifier.verify(token, NOW)).sub, "u1");
  for (
    const bad of [` ${token}`, `${token} `, token.replace(".", ". "), token.replace(".", "\t.")]
  ) {
    await assert.rejects(verifier.verify(bad, NOW), JwtError, JSON.stringify(bad));
  }
});

Deno.test("HmacJwtVerifier rejects malformed tokens with a JwtError", async () => {
  const verifier = new HmacJwtVerifier("HS256", SECRET);
  for (const token of ["", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x"]) {
    await assert.rejects(verifier.verify(token, NOW), JwtError);
  }
});
