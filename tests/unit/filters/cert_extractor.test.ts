import assert from "node:assert/strict";
import { certExtractorKind } from "../../../filters/cert_extractor.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { peerCertificatesFromNode } from "../../../filters/peer_certificate.ts";
import { build } from "./_helpers.ts";

// node:tls's getPeerCertificate(true): each certificate links to its issuer, the root to itself.
const root: Record<string, unknown> = {
  subject: { CN: "Root CA", O: "Trust" },
  issuer: { CN: "Root CA" },
};
root.issuerCertificate = root;
const leaf = {
  subject: { CN: "alice", OU: ["dev", "ops"], C: "NL", serialNumber: "42" },
  issuer: { CN: "Root CA", O: "Trust" },
  issuerCertificate: root,
};
const chain = peerCertificatesFromNode(leaf);

function headersAfter(spec: Record<string, unknown>, certificates = chain): Headers {
  const ctx = new Context(new HttpRequest({}), { peerCertificates: certificates });
  build(certExtractorKind, spec).handle(ctx);
  return ctx.request.headers;
}

Deno.test("peerCertificatesFromNode: leaf first, the self-issued root once, Go's field names", () => {
  assert.equal(chain.length, 2);
  assert.deepEqual(chain[0].subject, {
    Country: ["NL"],
    OrganizationalUnit: ["dev", "ops"],
    SerialNumber: ["42"],
    CommonName: ["alice"],
  });
  assert.deepEqual(chain[1].subject, { Organization: ["Trust"], CommonName: ["Root CA"] });
  assert.deepEqual(peerCertificatesFromNode({}), []);
  assert.deepEqual(peerCertificatesFromNode(undefined), []);
});

Deno.test("CertExtractor: a header value per field value; certIndex wraps, negative from the end", () => {
  assert.equal(
    headersAfter({ target: "subject", field: "CommonName" }).get("tls-subject-CommonName"),
    "alice",
  );
  assert.equal(
    headersAfter({ target: "subject", field: "OrganizationalUnit", headerKey: "X-OU" }).get("x-ou"),
    "dev, ops",
  );
  assert.equal(
    headersAfter({ certIndex: -1, target: "subject", field: "CommonName", headerKey: "X-Last" })
      .get("x-last"),
    "Root CA",
  );
  assert.equal(
    headersAfter({ certIndex: 2, target: "issuer", field: "Organization", headerKey: "X-I" })
      .get("x-i"),
    "Trust",
  );
  // A missing field, or no client certificates: nothing added.
  assert.equal(
    headersAfter({ target: "subject", field: "Locality" }).get("tls-subject-Locality"),
    null,
  );
  assert.equal(
    headersAfter({ target: "subject", field: "CommonName" }, []).get("tls-subject-CommonName"),
    null,
  );
});
