import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { type LogLevel, LogSink } from "../../../server/log.ts";
import { validateObject } from "../../../server/objects.ts";
import { certificateValidity, validityProblem } from "../../../server/httpserver/cert_validity.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { eventually, freePort } from "../../integration/helpers.ts";

// A certificate for localhost valid in January 2020 only, and its key.
const EXPIRED_CERT = `-----BEGIN CERTIFICATE-----
MIIBgjCCASegAwIBAgICEAAwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJSyB0ZXN0
IENBMB4XDTIwMDEwMTAwMDAwMFoXDTIwMDIwMTAwMDAwMFowFDESMBAGA1UEAwwJ
bG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1ar4bBY6bd3od+xz
VXzDYZhIzc5erRPzi/UaL3akS+/mFKYizDVBWjDVjI0ZlCZY98qpgJVbJbRxYmkH
QJlYp6NpMGcwGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAkGA1UdEwQCMAAw
HQYDVR0OBBYEFCz72eaPtlPlbLAyngFhW9TXGBEOMB8GA1UdIwQYMBaAFAcBzopI
siN1p+gcUmZeuqRTVnojMAoGCCqGSM49BAMCA0kAMEYCIQDjaHYLwJ9bptc095yX
87A/TUstqsN4HMgAiVf41eq/sAIhAJ/qprBnh8+Ug7Bj5pKciu+tKcxAriL7PsDP
ZFv1TnMp
-----END CERTIFICATE-----
`;
const EXPIRED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmFYTmrDRhagU9tq/
mugPjLw6zg6Kfm5OzpVnk74UkXShRANCAATVqvhsFjpt3eh37HNVfMNhmEjNzl6t
E/OL9RovdqRL7+YUpiLMNUFaMNWMjRmUJlj3yqmAlVsltHFiaQdAmVin
-----END PRIVATE KEY-----
`;

Deno.test("certificateValidity reads a certificate's period as node:crypto does", async () => {
  assert.deepEqual(certificateValidity(EXPIRED_CERT), {
    notBefore: Date.UTC(2020, 0, 1),
    notAfter: Date.UTC(2020, 1, 1),
  });
  const fresh = await makeSelfSignedCert({ names: ["a.test"] });
  try {
    const x509 = new X509Certificate(fresh.cert);
    assert.deepEqual(certificateValidity(fresh.cert), {
      notBefore: Date.parse(x509.validFrom),
      notAfter: Date.parse(x509.validTo),
    });
  } finally {
    await Deno.remove(fresh.dir, { recursive: true });
  }
  assert.equal(certificateValidity("not a certificate"), undefined);
  assert.equal(
    certificateValidity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
    undefined,
  );
  const validity = certificateValidity(EXPIRED_CERT);
  assert.equal(validityProblem([{ field: "certs.a", validity }], Date.UTC(2020, 0, 15)), "");
  assert.equal(
    validityProblem([{ field: "certs.a", validity }], Date.UTC(2019, 0, 1)),
    "certs.a: the certificate is not valid before 2020-01-01T00:00:00.000Z; clients refuse it",
  );
});

/** A log that keeps its warnings and writes nothing. */
class WarningsKept extends LogSink {
  readonly warnings: string[] = [];
  override write(level: LogLevel, _scope: string, message: string): void {
    if (level === "warn") this.warnings.push(message);
  }
}

Deno.test("an HTTPServer serving an expired certificate says so in its health", async () => {
  const filters = builtinFilters();
  const logs = new WarningsKept();
  const plane = new DataPlane({ filters, logs });
  const port = freePort();
  const fresh = await makeSelfSignedCert({ names: ["localhost"] });
  const server = (certs: Record<string, string>, keys: Record<string, string>) =>
    validateObject({
      kind: "HTTPServer",
      name: "s",
      port,
      address: "127.0.0.1",
      https: true,
      certs,
      keys,
      rules: [],
    }, filters);
  try {
    assert.deepEqual(
      await plane.apply([
        server({ fresh: fresh.cert, old: EXPIRED_CERT }, { fresh: fresh.key, old: EXPIRED_KEY }),
      ]),
      [],
    );
    const expected =
      "certs.old: the certificate expired at 2020-02-01T00:00:00.000Z; clients refuse it";
    await eventually(
      "the server running",
      () => Promise.resolve(plane.status("s")?.state === "running"),
    );
    assert.equal(plane.status("s")?.health, expected);
    assert.deepEqual(logs.warnings, [`server s: ${expected}`]);

    // Replaced: the health is clear again.
    await plane.apply([server({ fresh: fresh.cert }, { fresh: fresh.key })]);
    assert.equal(plane.status("s")?.health, "");
  } finally {
    await plane.close();
    await Deno.remove(fresh.dir, { recursive: true });
  }
});
