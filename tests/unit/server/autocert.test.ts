import assert from "node:assert/strict";
import { certificateRequest, ecdsaSignatureToDer } from "../../../server/autocert/csr.ts";
import { base64url, jwkThumbprint, pem } from "../../../server/autocert/acme_client.ts";
import { autoCertKeys, readAutoCertState } from "../../../server/autocert/state.ts";
import { AutoCertController, renewalDue } from "../../../server/autocert/manager.ts";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import { soleLeadership } from "../../../cluster/leadership.ts";
import { silentLogger } from "../../../server/log.ts";
import { eventually } from "../../integration/helpers.ts";
import { importAccountKey, newAccountKey } from "../../../server/autocert/account_key.ts";

Deno.test("certificateRequest: openssl verifies its signature and reads the names", async () => {
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const der = await certificateRequest(["a.example.com", "b.example.com"], keys);
  const child = new Deno.Command("openssl", {
    args: ["req", "-noout", "-verify", "-text"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(pem("CERTIFICATE REQUEST", der)));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /verify OK/);
  assert.match(text, /Subject: CN ?= ?a\.example\.com/);
  assert.match(text, /DNS:a\.example\.com, DNS:b\.example\.com/);
  assert.match(text, /ecdsa-with-SHA256/);
});

Deno.test("ecdsaSignatureToDer: minimal integers, a zero byte before a set high bit", () => {
  const raw = new Uint8Array(64);
  raw[0] = 0x80; // r: high bit set -> 00 80 00 ... (33 bytes)
  raw[62] = 0x01; // s: leading zeros dropped -> 01 00 (2 bytes)
  const der = ecdsaSignatureToDer(raw);
  assert.deepEqual([...der.subarray(0, 5)], [0x30, 2 + 33 + 2 + 2, 0x02, 33, 0x00]);
  assert.deepEqual([...der.subarray(-4)], [0x02, 2, 0x01, 0x00]);
});

Deno.test("base64url and the JWK thumbprint's canonical form (RFC 7515, RFC 7638)", async () => {
  assert.equal(base64url(Uint8Array.of(0xfb, 0xff, 0xfe)), "-__-");
  assert.equal(base64url("a"), "YQ");
  const jwk = { kty: "EC", crv: "P-256", x: "X", y: "Y", d: "secret", use: "sig" };
  const expected = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode('{"crv":"P-256","kty":"EC","x":"X","y":"Y"}'),
    ),
  );
  assert.equal(await jwkThumbprint(jwk), base64url(expected));
});

Deno.test("readAutoCertState: certificates by domain, answers by token, damaged entries skipped", () => {
  const state = readAutoCertState([
    { key: "/autocert/certs/a.test", value: JSON.stringify({ cert: "C", key: "K" }), revision: 1 },
    { key: "/autocert/certs/b.test", value: "{not json", revision: 1 },
    { key: "/autocert/certs/c.test", value: JSON.stringify({ cert: 1 }), revision: 1 },
    { key: "/autocert/challenges/tok", value: "tok.thumb", revision: 1 },
    { key: "/autocert/accounts/m", value: "{}", revision: 1 },
  ]);
  assert.deepEqual(state, {
    certs: { "a.test": { cert: "C", key: "K" } },
    challenges: { tok: "tok.thumb" },
  });
});

Deno.test("renewalDue: renewBefore the expiry, but not before two thirds of the life", () => {
  const day = 86_400_000;
  const obtained = Date.UTC(2026, 0, 1);
  const cert = (days: number) => ({
    cert: "",
    key: "",
    obtained: new Date(obtained).toISOString(),
    notAfter: new Date(obtained + days * day).toISOString(),
  });
  // Let's Encrypt's 90 days, 720h before: at day 60.
  assert.equal(renewalDue(cert(90), 30 * day), obtained + 60 * day);
  // A 7-day certificate: at two thirds of its life, not at once.
  assert.equal(Math.round((renewalDue(cert(7), 30 * day) - obtained) / 3_600_000), 112);
});

Deno.test("importAccountKey: a stored account key signs and verifies again", async () => {
  const { keys, jwk } = await newAccountKey();
  // What the store holds is JSON: the key goes through it as it would.
  const again = await importAccountKey(JSON.parse(JSON.stringify(jwk)));
  const data = new TextEncoder().encode("payload");
  const algorithm = { name: "ECDSA", hash: "SHA-256" };
  const signature = await crypto.subtle.sign(algorithm, again.privateKey, data);
  assert.ok(await crypto.subtle.verify(algorithm, keys.publicKey, signature, data));
  assert.ok(await crypto.subtle.verify(algorithm, again.publicKey, signature, data));
  assert.deepEqual(
    await jwkThumbprint(await crypto.subtle.exportKey("jwk", again.publicKey)),
    await jwkThumbprint(await crypto.subtle.exportKey("jwk", keys.publicKey)),
  );
});

Deno.test("AutoCertController: a certificate kept past its expiry while renewal fails is failed in the status", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openEmbeddedStore(dir);
  const controller = new AutoCertController({
    store,
    log: silentLogger,
    lead: (signal) => Promise.resolve(soleLeadership(signal)),
    syncDataPlanes: () => Promise.resolve(),
  });
  try {
    await store.put(
      autoCertKeys.cert("x.test"),
      JSON.stringify({
        cert: "C",
        key: "K",
        notAfter: "2020-02-01T00:00:00.000Z",
        obtained: "2020-01-01T00:00:00.000Z",
      }),
    );
    controller.update([{
      name: "autocert",
      kind: "AutoCertManager",
      email: "admin@example.com",
      // Nothing listens there: every renewal fails.
      directoryURL: "http://127.0.0.1:1/dir",
      renewBefore: "720h",
      enableHTTP01: true,
      enableTLSALPN01: true,
      enableDNS01: true,
      domains: [{ name: "x.test" }],
    }]);
    type Status = { health: string; domains: { state: string; error?: string }[] };
    let status: Status | undefined;
    await eventually("a renewal tried", () => {
      status = controller.status("autocert") as Status | undefined;
      return Promise.resolve(status?.domains[0].error !== undefined);
    });
    assert.equal(status!.domains[0].state, "failed");
    assert.match(
      status!.domains[0].error!,
      /^the certificate expired at 2020-02-01T00:00:00.000Z; renewing it failed: /,
    );
    assert.match(status!.health, /^x\.test: the certificate expired at /);
  } finally {
    await controller.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
