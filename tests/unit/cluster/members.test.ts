import assert from "node:assert/strict";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import {
  findLiveNamesake,
  listMembers,
  purgeMember,
  runHeartbeat,
  runStatusSync,
  syncStatuses,
} from "../../../cluster/members.ts";
import type { Store } from "../../../cluster/store.ts";
import { waitFor } from "./store_conformance.ts";

async function withStore(use: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eg-members-" });
  const store = await openEmbeddedStore(dir);
  try {
    await use(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runHeartbeat() writes the member document at once and keeps it fresh", async () => {
  await withStore(async (store, dir) => {
    const stop = new AbortController();
    const running = runHeartbeat(store, {
      name: "node-1",
      role: "primary",
      apiAddr: "127.0.0.1:2381",
      options: { "cluster-name": "c1" },
      extra: () => ({ etcd: { state: "Leader" } }),
      intervalMs: 10,
      signal: stop.signal,
    });
    await waitFor(async () => (await store.get("/status/members/node-1")) !== undefined, "beat");
    const first = (await store.get("/status/members/node-1"))!;
    await waitFor(
      async () => (await store.get("/status/members/node-1"))!.revision > first.revision,
      "a second beat",
    );
    stop.abort();
    await running;

    const doc = JSON.parse(first.value);
    assert.equal(doc.name, "node-1");
    assert.equal(doc.role, "primary");
    assert.equal(doc.apiAddr, "127.0.0.1:2381");
    assert.deepEqual(doc.options, { "cluster-name": "c1" });
    assert.deepEqual(doc.etcd, { state: "Leader" });
    assert.match(doc.lastHeartbeatTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // The document is ephemeral: gone once the member's session ends.
    await store.close();
    const reopened = await openEmbeddedStore(dir);
    try {
      assert.equal(await reopened.get("/status/members/node-1"), undefined);
    } finally {
      await reopened.close();
    }
  });
});

Deno.test("runHeartbeat() reports a failing beat and keeps beating", async () => {
  await withStore(async (store) => {
    const errors: unknown[] = [];
    let failing = true;
    const stop = new AbortController();
    const running = runHeartbeat(store, {
      name: "node-1",
      role: "secondary",
      apiAddr: "127.0.0.1:2381",
      extra: () => {
        if (failing) throw new Error("etcd state unavailable");
        return {};
      },
      intervalMs: 10,
      signal: stop.signal,
      onError: (error) => errors.push(error),
    });
    await waitFor(() => errors.length > 0, "a failed beat");
    failing = false;
    await waitFor(async () => (await store.get("/status/members/node-1")) !== undefined, "beat");
    stop.abort();
    await running;
    assert.match(String(errors[0]), /etcd state unavailable/);
  });
});

Deno.test("listMembers() sorts members and marks stale heartbeats not alive", async () => {
  await withStore(async (store) => {
    const now = Date.parse("2024-05-01T12:00:00Z");
    const member = (name: string, lastHeartbeatTime: string) =>
      JSON.stringify({ name, role: "primary", apiAddr: "h:1", lastHeartbeatTime, options: {} });
    await store.put("/status/members/b", member("b", "2024-05-01T11:59:58Z"));
    await store.put("/status/members/a", member("a", "2024-05-01T11:59:00Z"));
    await store.put("/status/members/c", "not json");

    const members = await listMembers(store, 10_000, { now });
    assert.deepEqual(members.map((m) => [m.name, m.alive]), [["a", false], ["b", true], [
      "c",
      false,
    ]]);
    assert.equal(members[1].apiAddr, "h:1");
    assert.match(members[2].error!, /\/status\/members\/c: .*JSON/);
  });
});

Deno.test("findLiveNamesake() finds a fresh document of another node id only", async () => {
  await withStore(async (store) => {
    const now = Date.parse("2026-01-01T00:00:30Z");
    const put = (doc: Record<string, unknown>) =>
      store.put(
        "/status/members/n",
        JSON.stringify({ role: "secondary", apiAddr: "127.0.0.1:1", ...doc }),
      );
    const find = () => findLiveNamesake(store, "n", "mine", 10_000, { now });
    assert.equal(await find(), undefined, "no document");
    await put({ lastHeartbeatTime: "2026-01-01T00:00:25Z", nodeId: "mine" });
    assert.equal(await find(), undefined, "this node's own, from before a restart");
    await put({ lastHeartbeatTime: "2026-01-01T00:00:25Z" });
    assert.equal(await find(), undefined, "no id: maybe this node's own");
    await put({ lastHeartbeatTime: "2026-01-01T00:00:15Z", nodeId: "other" });
    assert.equal(await find(), undefined, "stale: that node is gone");
    await put({ lastHeartbeatTime: "2026-01-01T00:00:25Z", nodeId: "other" });
    assert.equal((await find())?.nodeId, "other");
  });
});

Deno.test("purgeMember() removes the member and every status it wrote", async () => {
  await withStore(async (store) => {
    await store.put("/status/members/gone", "{}", { ephemeral: true });
    await store.put("/status/members/stays", "{}", { ephemeral: true });
    await store.put("/status/objects/server1/gone", "{}", { ephemeral: true });
    await store.put("/status/objects/default/pipeline1/gone", "{}", { ephemeral: true });
    await store.put("/status/objects/server1/stays", "{}", { ephemeral: true });

    assert.equal(await purgeMember(store, "gone"), true);
    assert.deepEqual((await store.range("/status/")).map((kv) => kv.key), [
      "/status/members/stays",
      "/status/objects/server1/stays",
    ]);
    assert.equal(await purgeMember(store, "gone"), false);
    await assert.rejects(() => purgeMember(store, "a/b"), /Invalid member name "a\/b"/);
  });
});

Deno.test("syncStatuses() writes statuses with a timestamp and deletes vanished objects", async () => {
  await withStore(async (store) => {
    const first = await syncStatuses(
      store,
      "node-1",
      new Map([["server1", { state: "running" }], ["default/pipeline1", { count: 3 }]]),
    );
    const doc = JSON.parse((await store.get("/status/objects/default/pipeline1/node-1"))!.value);
    assert.equal(doc.count, 3);
    assert.ok(Number.isInteger(doc.timestamp) && doc.timestamp > 1_600_000_000);

    await syncStatuses(store, "node-1", new Map([["server1", { state: "stopped" }]]), first);
    assert.deepEqual((await store.range("/status/objects/")).map((kv) => kv.key), [
      "/status/objects/server1/node-1",
    ]);
    const server = JSON.parse((await store.get("/status/objects/server1/node-1"))!.value);
    assert.equal(server.state, "stopped");
  });
});

Deno.test("runStatusSync() publishes periodically and clears keys of an earlier run", async () => {
  await withStore(async (store) => {
    // Left by an earlier run of this member, and one of another member.
    await store.put("/status/objects/old/node-1", "{}");
    await store.put("/status/objects/old/node-2", "{}");
    let rounds = 0;
    const stop = new AbortController();
    const running = runStatusSync(store, {
      member: "node-1",
      collect: () => {
        rounds++;
        return new Map([["server1", { round: rounds }]]);
      },
      intervalMs: 10,
      signal: stop.signal,
    });
    await waitFor(() => rounds >= 2, "two sync rounds");
    stop.abort();
    await running;
    const published = (await store.range("/status/objects/")).map((kv) => kv.key);
    assert.deepEqual(published, ["/status/objects/old/node-2", "/status/objects/server1/node-1"]);
  });
});
