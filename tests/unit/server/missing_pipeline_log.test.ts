import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { type LogLevel, LogSink } from "../../../server/log.ts";
import { validateObject } from "../../../server/objects.ts";
import { freePort } from "../../integration/helpers.ts";

/** A log that keeps its lines. */
class KeptLog extends LogSink {
  readonly lines: string[] = [];
  override write(level: LogLevel, scope: string, message: string): void {
    this.lines.push(`${level} ${scope} ${message}`);
  }
}

Deno.test("a route whose pipeline does not run logs why it answers 503, once a minute", async () => {
  const filters = builtinFilters();
  const logs = new KeptLog();
  const plane = new DataPlane({ filters, logs });
  const port = freePort();
  const server = validateObject({
    kind: "HTTPServer",
    name: "s",
    port,
    address: "127.0.0.1",
    rules: [{ paths: [{ pathPrefix: "/", backend: "absent" }] }],
  }, filters);
  try {
    assert.deepEqual(await plane.apply([server]), []);
    for (const path of ["/a?x=1", "/b"]) {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      await r.body?.cancel();
      assert.equal(r.status, 503);
    }
    const said = logs.lines.filter((l) => l.includes('"absent"'));
    assert.deepEqual(said, [
      'error server/s server s: backend(Pipeline) "absent" for [GET /a?x=1] not found: answering 503',
    ]);
  } finally {
    await plane.close();
  }
});
