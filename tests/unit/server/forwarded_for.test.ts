import assert from "node:assert/strict";
import { HttpRequest } from "../../../filters/context.ts";
import { addForwardedFor } from "../../../server/httpserver/server.ts";

function forwarded(header: string | undefined, realIP: string): string | null {
  const request = new HttpRequest({
    headers: header === undefined ? {} : { "x-forwarded-for": header },
  });
  addForwardedFor(request, realIP);
  return request.header("x-forwarded-for");
}

Deno.test("xForwardedFor appends the real IP unless it is one of the listed addresses", () => {
  assert.equal(forwarded(undefined, "10.0.0.1"), "10.0.0.1");
  assert.equal(forwarded("203.0.113.9", "203.0.113.9"), "203.0.113.9");
  assert.equal(forwarded("198.51.100.1, 203.0.113.9", "203.0.113.9"), "198.51.100.1, 203.0.113.9");
  assert.equal(forwarded("203.0.113.9 ,10.0.0.1", "10.0.0.1"), "203.0.113.9 ,10.0.0.1");
  // Another address that merely contains it is not it.
  assert.equal(forwarded("10.0.0.12", "10.0.0.1"), "10.0.0.12, 10.0.0.1");
  assert.equal(forwarded("110.0.0.1", "10.0.0.1"), "110.0.0.1, 10.0.0.1");
});
