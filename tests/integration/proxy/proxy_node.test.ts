/**
 * The Proxy behind a node's HTTPServer: what reaches the upstream and the
 * client through the real server (peer address, HEAD answers' lengths).
 */

import assert from "node:assert/strict";
import { eventually, freePort, startNodeProcess } from "../helpers.ts";
import { RawServer } from "./http1_helpers.ts";

Deno.test("through a node: X-Forwarded-For is the TCP peer, a HEAD's Content-Length goes on", async () => {
  const backend = new RawServer(async (reader) => {
    for (;;) {
      const head = await reader.head();
      if (head === null) return;
      const [method, path] = head.split(" ");
      if (method === "HEAD") {
        await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 2097152000\r\n\r\n");
        continue;
      }
      const xff = /\r\nx-forwarded-for: *([^\r]*)/i.exec(head)?.[1] ?? "none";
      const body = `${path} ${xff}`;
      await reader.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  });
  const node = await startNodeProcess();
  const port = freePort();
  try {
    const objects = `name: echo
kind: Pipeline
filters:
  - name: proxy
    kind: Proxy
    pools:
      - servers:
          - url: http://127.0.0.1:${backend.port}
---
kind: HTTPServer
name: s
port: ${port}
rules:
  - paths:
    - backend: echo
`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const base = `http://127.0.0.1:${port}`;
    await eventually("served", async () => {
      try {
        return (await (await fetch(`${base}/up`)).text()).startsWith("/up");
      } catch {
        return false;
      }
    });
    const spoofed = await fetch(`${base}/echo`, { headers: { "x-real-ip": "6.6.6.6" } });
    assert.equal(await spoofed.text(), "/echo 127.0.0.1");
    const head = await fetch(`${base}/big`, { method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "2097152000");
  } finally {
    await node.stop();
    await backend.close();
  }
});
