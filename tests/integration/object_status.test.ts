/** Object status documents as an operator reads them: HTTPServer `topN`. */

import assert from "node:assert/strict";
import {
  eventually,
  freePort,
  type NodeProcess,
  request,
  startNodeProcess,
  statusesOnNewConnections,
} from "./helpers.ts";

/** An HTTPServer `s` on `port` whose `/api` prefix goes to a Mock answering 200. */
async function createMockServer(node: NodeProcess, port: number): Promise<void> {
  const objects = `kind: Pipeline
name: p
filters:
- {name: m, kind: Mock, rules: [{code: 200, body: ok}]}
---
kind: HTTPServer
name: s
port: ${port}
rules:
- paths:
  - {pathPrefix: /api, backend: p}
`;
  assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
  await eventually(
    "served",
    async () => (await request(`http://127.0.0.1:${port}/api/ready`)).status === 200,
  );
}

/** Sends `count` GETs of `path`, each on a new connection (spread over the workers). */
async function send(port: number, path: string, count: number): Promise<void> {
  await statusesOnNewConnections(`http://127.0.0.1:${port}${path}`, count);
}

/** The `topN` of server `s` on this node as [path, count] pairs, but for the readiness checks. */
async function topN(node: NodeProcess): Promise<[string, number][]> {
  const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
  const doc = JSON.parse(status.stdout)["eg-default-name"];
  return doc.topN.map((t: { path: string; count: number }) => [t.path, t.count])
    .filter(([path]: [string]) => path !== "/api/ready");
}

Deno.test("status: topN counts every request under its path, as Easegress does", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    await createMockServer(node, port);
    await send(port, "/api/a", 3);
    await send(port, "/api/b", 2);
    await send(port, "/nothing", 1);
    assert.deepEqual(await topN(node), [["/api/a", 3], ["/api/b", 2], ["/nothing", 1]]);
  } finally {
    await node.stop();
  }
});

Deno.test("status: topN counts of two workers add up past each worker's ten busiest", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    await createMockServer(node, port);
    // Eleven paths, each on new connections that the kernel spreads over the workers: a worker
    // with fewer of a busy path than of /api/x had it outside its ten busiest.
    const busy = Array.from({ length: 10 }, (_, i) => `/api/p${i}`);
    for (const path of busy) await send(port, path, 20);
    await send(port, "/api/x", 19);
    const top = await topN(node);
    assert.deepEqual(top.map(([, count]) => count), Array(10).fill(20), JSON.stringify(top));
    assert.deepEqual(top.map(([path]) => path).sort(), busy);
  } finally {
    await node.stop();
  }
});

Deno.test("access log: rx counts a chunked request's body", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    await createMockServer(node, port);
    const out = await new Deno.Command("curl", {
      args: ["-sS", "-o", "/dev/null", "-H", "transfer-encoding: chunked"]
        .concat(["--data-binary", "hello world", `http://127.0.0.1:${port}/api/chunked`]),
    }).output();
    assert.equal(out.code, 0);
    const path = `${node.homeDir}/log/filter_http_access.log`;
    await eventually(
      "logged",
      async () => (await Deno.readTextFile(path)).includes("/api/chunked"),
    );
    assert.match(
      await Deno.readTextFile(path),
      / POST \/api\/chunked HTTP\/1\.1 200\] \[\S+ rx:11B /,
    );
  } finally {
    await node.stop();
  }
});
