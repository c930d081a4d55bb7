import assert from "node:assert/strict";
import {
  connectionTokens,
  extraConnectionHeaders,
  HOP_BY_HOP,
  isHopByHop,
} from "../../../filters/proxy/hop_by_hop.ts";

Deno.test("HOP_BY_HOP lists the standard lower-case names", () => {
  for (
    const name of [
      "connection",
      "proxy-connection",
      "keep-alive",
      "proxy-authenticate",
      "proxy-authorization",
      "te",
      "trailer",
      "transfer-encoding",
      "upgrade",
    ]
  ) {
    assert.ok(HOP_BY_HOP.has(name), name);
  }
  assert.equal(HOP_BY_HOP.has("content-length"), false);
});

Deno.test("isHopByHop matches standard names in any case", () => {
  assert.equal(isHopByHop("Transfer-Encoding", null), true);
  assert.equal(isHopByHop("KEEP-ALIVE", null), true);
  assert.equal(isHopByHop("content-type", null), false);
});

Deno.test("isHopByHop matches names listed in the Connection header", () => {
  assert.equal(isHopByHop("X-Private", "keep-alive, x-private"), true);
  assert.equal(isHopByHop("x-private", " Close , X-PRIVATE "), true);
  assert.equal(isHopByHop("x-public", "keep-alive, x-private"), false);
});

Deno.test("connectionTokens splits, trims and lower-cases", () => {
  assert.deepEqual(connectionTokens(" Keep-Alive ,, X-A,x-b "), ["keep-alive", "x-a", "x-b"]);
});

Deno.test("extraConnectionHeaders is null for plain keep-alive or close", () => {
  assert.equal(extraConnectionHeaders(null), null);
  assert.equal(extraConnectionHeaders("keep-alive"), null);
  assert.equal(extraConnectionHeaders("Close, Upgrade"), null);
  assert.deepEqual(extraConnectionHeaders("close, X-Drop"), new Set(["x-drop"]));
});

Deno.test("extraConnectionHeaders never drops the X-Forwarded-* fields a gateway adds", () => {
  const listed = "close, X-Forwarded-For, x-forwarded-host, X-Forwarded-Proto";
  assert.equal(extraConnectionHeaders(listed), null);
  assert.deepEqual(extraConnectionHeaders(`${listed}, x-real-ip`), new Set(["x-real-ip"]));
});
