import assert from "node:assert/strict";
import { serializeResponseHead } from "../../../server/httpserver/http1/response_head.ts";

Deno.test("status lines carry Go's reason phrases, and Go's text for codes it has none for", () => {
  const line = (status: number) =>
    serializeResponseHead(status, new Headers(), "", { close: false, http10: false })
      .split("\r\n")[0];
  assert.equal(line(418), "HTTP/1.1 418 I'm a teapot");
  assert.equal(line(599), "HTTP/1.1 599 status code 599");
  assert.equal(line(299), "HTTP/1.1 299 status code 299");
});
