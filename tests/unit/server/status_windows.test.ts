import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { freePort } from "../../integration/helpers.ts";
import { proxiedServer } from "./proxied_server.ts";
import { StatusSnapshots } from "../../../server/status_snapshots.ts";

type Stats = { count: number; codes: Record<string, number>; p50: number };

Deno.test("DataPlane.status with keepWindows leaves the server's and the pools' windows to the status sync", async () => {
  const backendPort = freePort();
  const backend = Deno.serve({ hostname: "127.0.0.1", port: backendPort, onListen() {} }, () => {
    return new Response("ok");
  });
  const filters = builtinFilters();
  const plane = new DataPlane({ filters, logs: new LogSink({ level: "error" }) });
  const port = freePort();
  const objects = proxiedServer(filters, `http://127.0.0.1:${backendPort}`, port);
  const server = (keep: boolean) => plane.status("s", keep) as unknown as Stats;
  const pool = (keep: boolean) =>
    (plane.status("p", keep) as { filters: { proxy: { mainPool: { stat: Stats } } } })
      .filters.proxy.mainPool.stat;
  try {
    assert.deepEqual(await plane.apply(objects), []);
    const r = await fetch(`http://127.0.0.1:${port}/x`);
    assert.equal(await r.text(), "ok");
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(server(true).codes, { "200": 1 }, `server, admin read ${i}`);
      assert.deepEqual(pool(true).codes, { "200": 1 }, `pool, admin read ${i}`);
    }
    // The sync's round gets the whole window, then starts a new one.
    assert.deepEqual([server(false).codes, pool(false).codes], [{ "200": 1 }, { "200": 1 }]);
    assert.deepEqual([server(false).codes, pool(false).codes], [{}, {}]);
    assert.equal(server(true).count, 1);
  } finally {
    await plane.close();
    await backend.shutdown();
  }
});

Deno.test("StatusSnapshots tells whether a snapshot was taken lately", async () => {
  const snapshots = new StatusSnapshots(() => Promise.resolve(new Map()), 4000);
  assert.equal(snapshots.takenWithin(10_000), false);
  await snapshots.take();
  assert.equal(snapshots.takenWithin(10_000), true);
});
