import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { SharedRegions } from "../../../filters/shared_regions.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { validateObject } from "../../../server/objects.ts";

Deno.test("an update that cannot be built leaves the previous pipeline running, and its status says why", async () => {
  const filters = builtinFilters();
  // Room for a small breaker, not for a day-long TIME_BASED window (2.7 MB).
  const plane = new DataPlane({
    filters,
    logs: new LogSink({ level: "error" }),
    sharedRegions: SharedRegions.create(1024 * 1024),
  });
  const pipeline = (breaker: Record<string, unknown>) =>
    validateObject({
      kind: "Pipeline",
      name: "p",
      filters: [{
        name: "proxy",
        kind: "Proxy",
        pools: [{ servers: [{ url: "http://127.0.0.1:1" }], circuitBreakerPolicy: "cb" }],
      }],
      resilience: [{ name: "cb", kind: "CircuitBreaker", ...breaker }],
    }, filters);
  try {
    assert.deepEqual(await plane.apply([pipeline({ slidingWindowSize: 10 })]), []);
    assert.equal(plane.status("p")?.health, "");

    const failures = await plane.apply([
      pipeline({ slidingWindowType: "TIME_BASED", slidingWindowSize: 86400 }),
    ]);
    assert.equal(failures.length, 1);
    const status = plane.status("p")!;
    // The previous generation serves on, so its filters are still reported...
    assert.ok((status.filters as Record<string, unknown>).proxy);
    // ...and the update that did not take is not hidden behind them.
    assert.match(
      status.health as string,
      /not applied.*filter proxy: pools\[0\]\.circuitBreakerPolicy: no room for breaker "cb"/,
    );

    assert.deepEqual(await plane.apply([pipeline({ slidingWindowSize: 20 })]), []);
    assert.equal(plane.status("p")?.health, "");
  } finally {
    await plane.close();
  }
});
