/** The peer address as the access log and filters see it. */

import assert from "node:assert/strict";
import { formatAddr, PeerClient, unmapIPv4 } from "../../../server/httpserver/client.ts";

Deno.test("formatAddr brackets IPv6 hosts, as Go's RemoteAddr does", () => {
  assert.equal(
    formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 8080 }),
    "127.0.0.1:8080",
  );
  assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 443 }), "[::1]:443");
});

Deno.test("an IPv4 client of a listener on :: is reported as IPv4, as Go does", () => {
  assert.equal(
    formatAddr({ transport: "tcp", hostname: "::ffff:127.0.0.1", port: 8080 }),
    "127.0.0.1:8080",
  );
  assert.equal(unmapIPv4("::FFFF:10.1.2.3"), "10.1.2.3");
  for (const ip of ["::1", "::ffff:1:2", "2001:db8::ffff:1.2.3.4", "1.2.3.4"]) {
    assert.equal(unmapIPv4(ip), ip);
  }
  const client = new PeerClient({ rawHeaders: new Headers() }, {
    peer: () => ({ transport: "tcp", hostname: "::ffff:192.0.2.7", port: 1 }),
    signal: () => new AbortController().signal,
  });
  assert.equal(client.realIP, "192.0.2.7");
  assert.equal(client.remoteAddr, "192.0.2.7:1");
});
