import assert from "node:assert/strict";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import { keys } from "../../../cluster/store.ts";
import { builtinFilters } from "../../../filters/registry.ts";
import type { ObjectSpec } from "../../../server/objects.ts";
import { Supervisor } from "../../../server/supervisor.ts";

const mock = (body: string) =>
  JSON.stringify({
    name: "p",
    kind: "Pipeline",
    filters: [{ name: "m", kind: "Mock", rules: [{ code: 200, body }] }],
  });

Deno.test("a sync whose apply fails is logged and later changes are still applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-supervisor-" });
  const store = await openEmbeddedStore(dir);
  const errors: string[] = [];
  const applied: ObjectSpec[][] = [];
  let fail = true;
  const supervisor = new Supervisor({
    store,
    sink: {
      apply(desired) {
        // As a worker plane does when a worker crashed during the apply.
        if (fail) return Promise.reject(new Error("worker 1 crashed"));
        applied.push(desired);
        return Promise.resolve();
      },
    },
    filters: builtinFilters(),
    log: { debug() {}, info() {}, warn() {}, error: (m) => errors.push(m) },
  });
  try {
    await store.put(keys.object("p"), mock("one"));
    await supervisor.sync();
    assert.match(errors.join("\n"), /cannot apply the stored objects: worker 1 crashed/);
    fail = false;
    await store.put(keys.object("p"), mock("two"));
    await supervisor.sync();
    assert.equal(applied.length, 1);
    assert.match(JSON.stringify(applied[0]), /"body":"two"/);
  } finally {
    await supervisor.stop();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
