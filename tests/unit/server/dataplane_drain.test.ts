import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { validateObject } from "../../../server/objects.ts";
import { freePort } from "../../integration/helpers.ts";

Deno.test("deleting an HTTPServer with a request in flight holds no later config change", async () => {
  const { promise: arrived, resolve: arrive } = Promise.withResolvers<void>();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    arrive();
    await gate;
    return new Response("late");
  });
  const filters = builtinFilters();
  const plane = new DataPlane({ filters, logs: new LogSink({ level: "error" }) });
  const [port, otherPort] = [freePort(), freePort()];
  const pipeline = validateObject({
    kind: "Pipeline",
    name: "p",
    filters: [{
      name: "proxy",
      kind: "Proxy",
      pools: [{ servers: [{ url: `http://127.0.0.1:${backend.addr.port}` }] }],
    }],
  }, filters);
  const server = (name: string, port: number) =>
    validateObject({
      kind: "HTTPServer",
      name,
      port,
      address: "127.0.0.1",
      rules: [{ paths: [{ pathPrefix: "/", backend: "p" }] }],
    }, filters);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    assert.deepEqual(await plane.apply([pipeline, server("s", port)]), []);
    const slow = fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    await arrived;
    // Without waiting for the slow request (the drain allows it 30 s).
    const applied = plane.apply([pipeline, server("t", otherPort)]);
    const late = new Promise((r) => timer = setTimeout(() => r("late"), 2000));
    assert.notEqual(await Promise.race([applied, late]), "late", "apply waited for the drain");
    assert.equal(plane.status("t")?.name, "t");
    // The port is free, and the request in flight is still answered.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    open();
    assert.equal(await slow, "late");
  } finally {
    clearTimeout(timer);
    open();
    await plane.close();
    await backend.shutdown();
  }
});
