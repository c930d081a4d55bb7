import assert from "node:assert/strict";
import {
  http3Presence,
  LocalHttp3Presence,
  SharedHttp3Presence,
} from "../../../server/httpserver/http3_presence.ts";
import { SharedRegions } from "../../../filters/shared_regions.ts";

Deno.test("http3 presence: one plane's state starts not serving and follows what it is told", () => {
  const presence = new LocalHttp3Presence();
  assert.equal(presence.serving, false);
  presence.set(true);
  assert.equal(presence.serving, true);
  presence.set(false);
  assert.equal(presence.serving, false);
});

Deno.test("http3 presence: what the plane serving QUIC tells, every plane sees, per server", () => {
  const first = SharedRegions.create(1 << 20, 2);
  const second = new SharedRegions(first.buffer, 1);
  const quic = new SharedHttp3Presence(first, "s");
  const other = new SharedHttp3Presence(second, "s");
  const elsewhere = new SharedHttp3Presence(second, "t");
  assert.equal(other.serving, false);
  quic.set(true);
  assert.equal(other.serving, true);
  assert.equal(elsewhere.serving, false, "another server's state is its own");
  quic.set(false);
  assert.equal(other.serving, false);
  for (const p of [quic, other, elsewhere]) p.close();
  assert.equal(first.used, 0);
});

Deno.test("http3 presence: without shared regions, a plane keeps its own", () => {
  assert.ok(http3Presence("s", undefined, () => {}) instanceof LocalHttp3Presence);
});
