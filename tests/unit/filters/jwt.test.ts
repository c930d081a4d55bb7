import assert from "node:assert/strict";
import {
  HmacJwtVerifier,
  JwtError,
  type JwtSpec,
  JwtVerifier,
  readJwtSpec,
} from "../../../filters/jwt.ts";
import { SpecReader } from "../../../filters/spec.ts";
import { keyPairFor, signJwt, signJwtWithKey } from "./_jwt.ts";

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

function readSpec(raw: Record<string, unknown>): { spec: JwtSpec; problems: readonly string[] } {
  const r = SpecReader.root(raw);
  const spec = readJwtSpec(r);
  r.finish();
  return { spec, problems: r.problems };
}

Deno.test("JwtVerifier checks RS, ES and EdDSA tokens with the spec's hex PEM public key", async () => {
  for (const alg of ["RS256", "RS512", "ES256", "ES384", "ES512", "EdDSA"] as const) {
    const { privateKey, publicKeyHex } = await keyPairFor(alg);
    const { spec, problems } = readSpec({ algorithm: alg, publicKey: publicKeyHex });
    assert.deepEqual(problems, [], alg);
    const verifier = JwtVerifier.fromSpec(spec);
    const token = await signJwtWithKey({ sub: "u1", exp: NOW + 10 }, privateKey, alg);
    assert.equal((await verifier.verify(token, NOW)).sub, "u1", alg);
    await assert.rejects(verifier.verify(token, NOW + 10), /token is expired/, alg);
    const other = await keyPairFor(alg);
    const forged = await signJwtWithKey({ sub: "u1" }, other.privateKey, alg);
    await assert.rejects(verifier.verify(forged, NOW), /signature is invalid/, alg);
    const [h, p] = token.split(".");
    await assert.rejects(verifier.verify(`${h}.${p}.AAAA`, NOW), /signature is invalid/, alg);
    const hmac = await signJwt({}, SECRET, "HS256");
    await assert.rejects(verifier.verify(hmac, NOW), /unexpected signing method: HS256/, alg);
  }
});

Deno.test("readJwtSpec takes a public key as hex PEM or DER and names one that cannot serve", async () => {
  const { publicKeyHex } = await keyPairFor("ES256");
  const pem = new TextDecoder().decode(Uint8Array.fromHex(publicKeyHex));
  const der = Uint8Array.fromBase64(pem.replace(/-----[^-]+-----|\s/g, "")).toHex();
  assert.deepEqual(readSpec({ algorithm: "ES256", publicKey: der }).problems, []);
  const privatePem = new TextEncoder().encode(
    "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
  );
  assert.deepEqual(
    [
      readSpec({ algorithm: "RS256" }),
      readSpec({ algorithm: "RS256", publicKey: publicKeyHex }),
      readSpec({ algorithm: "ES384", publicKey: publicKeyHex }),
      readSpec({ algorithm: "EdDSA", publicKey: "zz" }),
      readSpec({ algorithm: "ES256", publicKey: "00ff" }),
      readSpec({ algorithm: "ES256", publicKey: privatePem.toHex() }),
      readSpec({ algorithm: "ES256", publicKey: publicKeyHex, secret: "00" }),
      readSpec({ algorithm: "HS256", secret: "00", publicKey: publicKeyHex }),
      readSpec({ algorithm: "PS256", secret: "00" }),
    ].flatMap((r) => r.problems),
    [
      "publicKey: is required",
      "publicKey: is an EC P-256 key, RS256 needs an RSA key",
      "publicKey: is an EC P-256 key, ES384 needs an EC P-384 key",
      "publicKey: must be a hex string of whole bytes",
      "publicKey: is not a public key in PEM (hex encoded) or DER",
      "publicKey: holds a PEM PRIVATE KEY block, not a PUBLIC KEY",
      "secret: is only used with HS algorithms",
      "publicKey: is only used with RS, ES and EdDSA algorithms",
      'algorithm: must be one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, EdDSA, got "PS256"',
    ],
  );
});
