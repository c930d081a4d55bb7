import assert from "node:assert/strict";
import { keyPairProblems, pemProblem } from "../../../filters/pem.ts";

Deno.test("keyPairProblems skips values left out, and names empty ones", () => {
  assert.deepEqual(keyPairProblems("cert", undefined, "key", undefined), []);
  assert.deepEqual(keyPairProblems("certs.a", "", "keys.a", ""), [
    ["certs.a", "is empty"],
    ["keys.a", "is empty"],
  ]);
  assert.deepEqual(keyPairProblems("cert", "x", "key", undefined), [
    ["cert", "is neither PEM nor base64-encoded PEM"],
  ]);
});

// One EC key under the passphrase "xx", in PKCS #8 and in the traditional form.
const ENCRYPTED_KEYS = [
  `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgfdIh1XWqHcwICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEPsKx9MDJnexoRYqWX+Q0xkEgZAX
V/OSrsQVSltMiR2Lc1ypitRqEkrYVpEEer0djFXXl9AfwrEqSy+GYiUi8UyXTlyu
G/vktM5x5oeT99qrkoHJYGdneq1jlJH2OQ6eO3jVkOXIAds+KwG0Dru4GmKVJ+3+
qoq/d9qZ79KxjazeLaj+0RUHbF9GOqLQGMzQXPDoxGiBGgWXpGdQG8k5RpNV3AI=
-----END ENCRYPTED PRIVATE KEY-----`,
  `-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,DDFEC2C7976F28F0385F4D1F7752BCE0

RizaaqvQKQ3DlhowYkjbYC/S1nYqBiVxjt01op06MoApl7GYDAH0p7qNdZqU8OW/
MWSYqnrKm++eSATFBjhjdzFqsKR6/wgV7SnW1XzN+77M7yxySrHc9C39Ak4wtWwb
WCjFTyom9uGJouJaWAeaIkQRIIXZNWarJ9EJWd3JTz0=
-----END EC PRIVATE KEY-----`,
];

Deno.test("pemProblem says a key is encrypted, raw or base64-encoded", () => {
  for (const key of ENCRYPTED_KEYS) {
    for (const value of [key, btoa(key)]) {
      assert.equal(
        pemProblem(value, "key"),
        "is encrypted: give the key without its passphrase (openssl pkey -in key.pem)",
      );
    }
  }
});

Deno.test("keyPairProblems names the keys the TLS library signs with when it refuses one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Go's TLS takes an RSA key of 1024 bits; the TLS library here does not.
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
        "-days",
        "2",
        "-subj",
        "/CN=small",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const cert = await Deno.readTextFile(`${dir}/cert.pem`);
    const key = await Deno.readTextFile(`${dir}/key.pem`);
    const problems = keyPairProblems("certBase64", cert, "keyBase64", btoa(key));
    assert.equal(problems.length, 1);
    assert.equal(problems[0][0], "keyBase64");
    assert.match(problems[0][1], /^is refused by the TLS library: .*RSA keys of 2048 bits or more/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A self-signed X.509 version 1 certificate (openssl x509 -req, no extensions) and its key. */
const V1_CERT = `-----BEGIN CERTIFICATE-----
MIIBFjCBvQIUHYSvDBcfgmR3GWOn5E57qeB4FVMwCgYIKoZIzj0EAwIwDTELMAkG
A1UEAwwCdjEwIBcNMjYxMjA2MjE0NTU5WhgPMjEyNjExMTIyMTQ1NTlaMA0xCzAJ
BgNVBAMMAnYxMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIO0sLfR3P2S9uTv0
i0Z8eGHSlI4mDksVXc2uUWvAO3fgmRwvvDa7oIL8uOQQ6+05V/pMRNHV7m8FlPU0
hcPx8TAKBggqhkjOPQQDAgNIADBFAiBaC4wdiVudiXfTbdulIhnIlod1iVdD+yDp
X4/mvno6EQIhALWbw2G/4WFsmPHhNBySwdxPDylzzeSZNGndOu2sgTdu
-----END CERTIFICATE-----`;
const V1_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZ3JHHuzUYl8WWi/Q
RXghSVU2j7N6R565N7XYlMat+9GhRANCAAQg7Swt9Hc/ZL25O/SLRnx4YdKUjiYO
SxVdza5Ra8A7d+CZHC+8Nruggvy45BDr7TlX+kxE0dXubwWU9TSFw/Hx
-----END PRIVATE KEY-----`;

Deno.test("keyPairProblems says why an X.509 v1 certificate, which Go takes, is refused", () => {
  const [[field, problem]] = keyPairProblems("certBase64", V1_CERT, "keyBase64", V1_KEY);
  assert.equal(field, "certBase64");
  assert.match(problem, /^is refused by the TLS library: .*UnsupportedCertVersion/);
  assert.match(problem, /\(an X\.509 version 1 certificate: only version 3 ones are taken; /);
});
