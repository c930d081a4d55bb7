import assert from "node:assert/strict";
import { openEtcdStore } from "../../../cluster/etcd_store.ts";
import { listMembers, runHeartbeat, runStatusSync } from "../../../cluster/members.ts";
import { waitFor } from "../../unit/cluster/store_conformance.ts";
import { TestEtcdCluster } from "./etcd_fixture.ts";

Deno.test("members on etcd see each other, and a closed member's keys vanish", async () => {
  const etcd = await TestEtcdCluster.start();
  const open = (memberName: string) =>
    openEtcdStore({ endpoints: etcd.endpoints, clusterName: "members", memberName });
  const one = await open("node-1");
  const two = await open("node-2");
  const stop = new AbortController();
  try {
    const loops = [one, two].map((store) =>
      runHeartbeat(store, {
        name: store.memberName,
        role: "primary",
        apiAddr: "127.0.0.1:2381",
        intervalMs: 50,
        signal: stop.signal,
      })
    );
    const statusLoop = runStatusSync(one, {
      member: "node-1",
      collect: () => new Map([["server1", { state: "running" }]]),
      intervalMs: 50,
      signal: stop.signal,
    });
    await waitFor(
      async () => (await listMembers(two, 10_000)).filter((m) => m.alive).length === 2,
      "both members alive",
    );
    await waitFor(
      async () => (await two.get("/status/objects/server1/node-1")) !== undefined,
      "node-1's object status",
    );

    stop.abort();
    await Promise.all([...loops, statusLoop]);
    await one.close(); // revokes node-1's lease: its keys go at once
    assert.deepEqual((await listMembers(two, 10_000)).map((m) => m.name), ["node-2"]);
    assert.equal(await two.get("/status/objects/server1/node-1"), undefined);
  } finally {
    stop.abort();
    await one.close();
    await two.close();
    await etcd.close();
  }
});
