import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { openEtcdStore } from "../../../cluster/etcd_store.ts";
import { type Store, StoreUnavailableError, type WatchEvent } from "../../../cluster/store.ts";
import { runStoreConformance, waitFor } from "../../unit/cluster/store_conformance.ts";
import { TestEtcdCluster } from "./etcd_fixture.ts";

Deno.test("etcd store passes the Store conformance suite", async (t) => {
  const etcd = await TestEtcdCluster.start();
  try {
    let n = 0;
    await runStoreConformance(t, {
      async open() {
        const options = {
          endpoints: etcd.endpoints,
          clusterName: `conformance${++n}`,
          memberName: "member-a",
          requestTimeoutMs: 5_000,
        };
        return { store: await openEtcdStore(options), reopen: () => openEtcdStore(options) };
      },
    });
  } finally {
    await etcd.close();
  }
});

Deno.test("etcd store watch keeps delivering after etcd restarts", async () => {
  const etcd = await TestEtcdCluster.start();
  const store = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "restart",
    memberName: "a",
    requestTimeoutMs: 2_000,
  });
  const controller = new AbortController();
  try {
    const seen: WatchEvent[] = [];
    store.watch("/w/", (events) => seen.push(...events), controller.signal);
    await store.put("/w/before", "1");
    await waitFor(() => seen.length === 1, "the event before the restart");

    await etcd.stopMember("m1");
    await etcd.startMember("m1");
    // The first writes may still meet the closed connection; the store retries.
    await waitFor(() => putSucceeds(store, "/w/after", "2"), "a write after the restart");
    await waitFor(
      () => seen.some((event) => event.key === "/w/after"),
      () => `the event after the restart, saw ${JSON.stringify(seen)}`,
    );
    assert.deepEqual(seen[0], { type: "put", key: "/w/before", value: "1" });
  } finally {
    controller.abort();
    await store.close();
    await etcd.close();
  }
});

Deno.test("etcd store answers StoreUnavailableError while etcd is down, then recovers", async () => {
  const etcd = await TestEtcdCluster.start();
  const options = {
    endpoints: etcd.endpoints,
    clusterName: "outage",
    memberName: "a",
    requestTimeoutMs: 500,
  };
  const store = await openEtcdStore(options);
  const spare = await openEtcdStore({ ...options, memberName: "b" });
  try {
    await store.put("/k", "v");
    await spare.put("/status/members/b", "alive", { ephemeral: true });
    await etcd.stopMember("m1");
    await assert.rejects(() => store.get("/k"), StoreUnavailableError);
    await assert.rejects(() => store.put("/k", "w"), StoreUnavailableError);
    await assert.rejects(() => store.range("/"), StoreUnavailableError);
    await assert.rejects(() => store.put("/e", "x", { ephemeral: true }), StoreUnavailableError);
    await assert.rejects(() => store.deletePrefix("/"), StoreUnavailableError);
    await assert.rejects(() => openEtcdStore({ ...options, memberName: "c" }), (error: Error) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /etcd at http:\/\/127\.0\.0\.1:\d+ is unavailable/);
      return true;
    });
    // Closing while etcd is down gives up on revoking the lease, and ends.
    await spare.close();

    await etcd.startMember("m1");
    await waitFor(() => putSucceeds(store, "/k", "after"), "a write after etcd is back");
    assert.equal((await store.get("/k"))?.value, "after");
  } finally {
    await spare.close();
    await store.close();
    await etcd.close();
  }
});

Deno.test("etcd store puts its ephemeral keys again when its lease is lost", async () => {
  const etcd = await TestEtcdCluster.start();
  const store = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "lease",
    memberName: "a",
    leaseTtlSeconds: 5,
  });
  const raw = new Etcd3({ hosts: etcd.endpoints });
  try {
    await store.put("/status/members/a", "alive", { ephemeral: true });
    await store.put("/status/objects/o/a", "running", { ephemeral: true });
    const leaseOf = async (key: string) =>
      (await raw.get(`/lease${key}`).exec()).kvs[0]?.lease.toString();
    const firstLease = await leaseOf("/status/members/a");
    assert.ok(firstLease && firstLease !== "0", "the ephemeral key is bound to a lease");

    // Another client revokes the member's lease, as `egctl member purge` would.
    await raw.leaseClient.leaseRevoke({ ID: firstLease });
    await waitFor(async () => {
      const lease = await leaseOf("/status/members/a");
      return lease !== undefined && lease !== firstLease;
    }, "the member key under a new lease");
    await waitFor(async () => (await leaseOf("/status/objects/o/a")) !== undefined, "status key");
    assert.equal((await store.get("/status/objects/o/a"))?.value, "running");
  } finally {
    raw.close();
    await store.close();
    await etcd.close();
  }
});

async function putSucceeds(store: Store, key: string, value: string): Promise<boolean> {
  try {
    return await store.put(key, value);
  } catch (error) {
    if (error instanceof StoreUnavailableError) return false;
    throw error;
  }
}

/**
 * Waits until every thread of process `pid` is stopped: SIGSTOP reaches a
 * busy process's threads a moment after kill returns, and a request sent in
 * that moment was still answered.
 */
async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
    const states = tasks.map((t) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${t}/stat`).replace(/^.*\) /s, "")[0]
    );
    if (states.every((state) => state === "T" || state === "t")) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

Deno.test("etcd store says a write etcd took but did not answer may still take effect", async () => {
  const etcd = await TestEtcdCluster.start(1, 17600);
  const store = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "unsure",
    memberName: "a",
    requestTimeoutMs: 1_000,
  });
  const pid = etcd.process("m1").pid;
  try {
    await store.put("/k", "v");
    // A frozen etcd (as one whose leader lost its quorum) takes the call and never answers.
    Deno.kill(pid, "SIGSTOP");
    await stopped(pid);
    await assert.rejects(() => store.put("/k", "w"), (error: Error) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /may still take effect once etcd recovers/);
      return true;
    });
    // A read that fails says nothing of the kind.
    await assert.rejects(() => store.get("/k"), (error: Error) => {
      assert.doesNotMatch(error.message, /may still take effect/);
      return true;
    });
  } finally {
    Deno.kill(pid, "SIGCONT");
    await store.close();
    await etcd.close();
  }
});
