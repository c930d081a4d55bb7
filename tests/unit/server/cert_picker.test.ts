import assert from "node:assert/strict";
import { certificateCovers } from "../../../server/httpserver/cert_picker.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";

Deno.test("certificateCovers: DNS names, one-label wildcards and IP addresses, ports ignored", async () => {
  const tls = await makeSelfSignedCert({
    names: ["a.example", "*.wild.example"],
    ipAddresses: ["127.0.0.1", "::1"],
  });
  try {
    const covers = certificateCovers(tls.cert);
    for (
      const host of ["a.example", "A.Example:8443", "x.wild.example", "127.0.0.1:443", "[::1]:443"]
    ) {
      assert.ok(covers(host), host);
    }
    for (const host of ["b.example", "y.x.wild.example", "wild.example", "127.0.0.2", ""]) {
      assert.ok(!covers(host), host);
    }
  } finally {
    await Deno.remove(tls.dir, { recursive: true });
  }
});
