import assert from "node:assert/strict";
import { soleLeadership } from "../../../cluster/leadership.ts";

Deno.test("soleLeadership() leads until its signal aborts", () => {
  const stop = new AbortController();
  const leadership = soleLeadership(stop.signal);
  assert.equal(leadership.lost.aborted, false);
  stop.abort(new Error("shutdown"));
  assert.equal(leadership.lost.aborted, true);
  assert.match(String(leadership.lost.reason), /shutdown/);
});

Deno.test("soleLeadership() ends on resign()", async () => {
  const stop = new AbortController();
  const leadership = soleLeadership(stop.signal);
  await leadership.resign();
  await leadership.resign();
  assert.equal(leadership.lost.aborted, true);
  assert.match(String(leadership.lost.reason), /resigned/);
});

Deno.test("soleLeadership() of an aborted signal is already lost", () => {
  const stop = new AbortController();
  stop.abort();
  assert.equal(soleLeadership(stop.signal).lost.aborted, true);
});
