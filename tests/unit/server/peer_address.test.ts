/** The peer address as the access log and filters see it. */

import assert from "node:assert/strict";
import { formatAddr } from "../../../server/httpserver/client.ts";

Deno.test("formatAddr brackets IPv6 hosts, as Go's RemoteAddr does", () => {
  assert.equal(
    formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 8080 }),
    "127.0.0.1:8080",
  );
  assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 443 }), "[::1]:443");
});
