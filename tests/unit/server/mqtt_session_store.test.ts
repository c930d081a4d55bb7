import assert from "node:assert/strict";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import { keys } from "../../../cluster/store.ts";
import { StoredMqttSessions } from "../../../server/mqtt/session_store.ts";
import { messagedControlServices, runControlCall } from "../../../server/control_calls.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test("StoredMqttSessions: writes run in order; a load waits for them", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openEmbeddedStore(dir);
  try {
    const sessions = new StoredMqttSessions(store, quiet);
    sessions.save("mq", "c/1", { "a/#": 1 });
    sessions.save("mq", "c/1", { "a/#": 1, "b": 0 });
    assert.deepEqual(await sessions.load("mq", "c/1"), { "a/#": 1, "b": 0 });
    sessions.save("mq", "c/1", { "x": 1 });
    sessions.remove("mq", "c/1");
    assert.equal(await sessions.load("mq", "c/1"), undefined);
    // Another proxy's session of the same client is its own.
    sessions.save("other", "c/1", { "y": 0 });
    assert.deepEqual(await sessions.load("other", "c/1"), { "y": 0 });
    assert.equal(await sessions.load("mq", "c/1"), undefined);
    await store.put(keys.mqttSession("mq", "broken"), "not json");
    assert.equal(await sessions.load("mq", "broken"), undefined);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control calls sent as messages reach the same services", async () => {
  const saved: unknown[] = [];
  const services = {
    storeWasmData: (batch: unknown) => void saved.push(["wasm", batch]),
    mqttSessions: {
      load: (proxy: string, clientID: string) =>
        Promise.resolve({ [`${proxy}:${clientID}`]: 1 as const }),
      save: (proxy: string, clientID: string, subs: unknown) =>
        void saved.push([proxy, clientID, subs]),
      remove: (proxy: string, clientID: string) => void saved.push(["removed", proxy, clientID]),
    },
  };
  // The "worker" side sends calls; the "control plane" side runs them.
  const messaged = messagedControlServices(
    (call) => void runControlCall(services, call),
    async (call) => await runControlCall(services, structuredClone(call)),
  );
  messaged.storeWasmData([["p/w", [{ op: "put", key: "k", value: "v" }]]]);
  messaged.mqttSessions.save("mq", "c", { t: 0 });
  messaged.mqttSessions.remove("mq", "c");
  assert.deepEqual(await messaged.mqttSessions.load("mq", "c"), { "mq:c": 1 });
  assert.deepEqual(saved, [
    ["wasm", [["p/w", [{ op: "put", key: "k", value: "v" }]]]],
    ["mq", "c", { t: 0 }],
    ["removed", "mq", "c"],
  ]);
});
