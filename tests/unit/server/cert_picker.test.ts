import assert from "node:assert/strict";
import { certificateCovers, certificatePicker } from "../../../server/httpserver/cert_picker.ts";
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

Deno.test("certificatePicker: a host's own certificate before a wildcard listed first", async () => {
  const wild = await makeSelfSignedCert({ names: ["*.w.example"] });
  const exact = await makeSelfSignedCert({ names: ["x.w.example"] });
  const other = await makeSelfSignedCert({ names: ["other.example"] });
  try {
    const pick = certificatePicker([
      { cert: other.cert, name: "other" },
      { cert: wild.cert, name: "wild" },
      { cert: exact.cert, name: "exact" },
    ]);
    assert.equal(pick("x.w.example").name, "exact");
    assert.equal(pick("X.W.Example").name, "exact");
    assert.equal(pick("y.w.example").name, "wild");
    assert.equal(pick("nobody.example").name, "other");
  } finally {
    for (const tls of [wild, exact, other]) await Deno.remove(tls.dir, { recursive: true });
  }
});
