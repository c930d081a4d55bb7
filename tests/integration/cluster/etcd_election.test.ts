import assert from "node:assert/strict";
import { openEtcdStore } from "../../../cluster/etcd_store.ts";
import { waitFor } from "../../unit/cluster/store_conformance.ts";
import { TestEtcdCluster } from "./etcd_fixture.ts";

Deno.test("campaign() elects one member and hands over when the leader resigns", async () => {
  const etcd = await TestEtcdCluster.start();
  const open = (memberName: string) =>
    openEtcdStore({ endpoints: etcd.endpoints, clusterName: "election", memberName });
  const a = await open("a");
  const b = await open("b");
  const stop = new AbortController();
  try {
    const leaderA = await a.campaign("singleton", stop.signal);
    let bElected = false;
    const campaignB = b.campaign("singleton", stop.signal).then((leadership) => {
      bElected = true;
      return leadership;
    });
    // b stays a candidate while a leads; a resigning hands over to b.
    await waitFor(
      async () => (await a.range("/election/singleton/")).length === 2,
      "both candidates registered",
    );
    assert.equal(bElected, false);
    await leaderA.resign();
    assert.equal(leaderA.lost.aborted, true);
    const leaderB = await campaignB;
    assert.equal(leaderB.lost.aborted, false);

    // Closing the store ends its leadership.
    await b.close();
    assert.equal(leaderB.lost.aborted, true);
  } finally {
    stop.abort();
    await a.close();
    await b.close();
    await etcd.close();
  }
});

Deno.test("campaign() rejects when its signal aborts before election", async () => {
  const etcd = await TestEtcdCluster.start();
  const open = (memberName: string) =>
    openEtcdStore({ endpoints: etcd.endpoints, clusterName: "election", memberName });
  const a = await open("a");
  const b = await open("b");
  const stopA = new AbortController();
  const stopB = new AbortController();
  try {
    const leaderA = await a.campaign("singleton", stopA.signal);
    const campaignB = b.campaign("singleton", stopB.signal);
    stopB.abort(new Error("shutting down"));
    await assert.rejects(campaignB, /shutting down/);
    // Aborting the leader's signal resigns it.
    stopA.abort();
    await new Promise<void>((resolve) => {
      if (leaderA.lost.aborted) resolve();
      else leaderA.lost.addEventListener("abort", () => resolve(), { once: true });
    });
    const again = await b.campaign("singleton", new AbortController().signal);
    await again.resign();

    // A candidate still waiting when its store closes gives up cleanly.
    await a.campaign("singleton", new AbortController().signal);
    const waiting = b.campaign("singleton", new AbortController().signal);
    // Watch for the rejection before anything can close the store.
    const gaveUp = assert.rejects(waiting, /closed/);
    await waitFor(
      async () => (await a.range("/election/singleton/")).length === 2,
      "b waiting behind a",
    );
    await b.close();
    await gaveUp;
    assert.deepEqual((await a.range("/election/singleton/")).length, 1);
  } finally {
    await a.close();
    await b.close();
    await etcd.close();
  }
});

Deno.test("campaign() fails over when the leader's process dies", async () => {
  const etcd = await TestEtcdCluster.start();
  const moduleUrl = new URL("../../../cluster/etcd_store.ts", import.meta.url).href;
  const leaderScript = `
    import { openEtcdStore } from ${JSON.stringify(moduleUrl)};
    const store = await openEtcdStore({
      endpoints: ${JSON.stringify(etcd.endpoints)},
      clusterName: "failover",
      memberName: "crashing",
      leaseTtlSeconds: 2,
    });
    await store.campaign("singleton", new AbortController().signal);
    console.log("elected");
    setInterval(() => {}, 1000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", leaderScript],
    stdout: "piped",
    stderr: "null",
    cwd: new URL("../../..", import.meta.url).pathname,
  }).spawn();
  const survivor = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "failover",
    memberName: "survivor",
    leaseTtlSeconds: 2,
  });
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    while (!output.includes("elected")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`leader process ended early: ${output}`);
      output += value;
    }
    const campaign = survivor.campaign("singleton", new AbortController().signal);
    // If the test fails before awaiting it, closing the store rejects it: keep that handled.
    campaign.catch(() => {});
    child.kill("SIGKILL");
    await reader.cancel();
    // The dead leader's lease expires after its TTL; then the survivor leads.
    const leadership = await campaign;
    assert.equal(leadership.lost.aborted, false);
    await leadership.resign();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already dead */ }
    await child.status;
    await survivor.close();
    await etcd.close();
  }
});

Deno.test("a leader steps down when etcd becomes unreachable", async () => {
  const etcd = await TestEtcdCluster.start();
  const store = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "stepdown",
    memberName: "a",
    leaseTtlSeconds: 2,
    requestTimeoutMs: 500,
  });
  try {
    const leadership = await store.campaign("singleton", new AbortController().signal);
    await etcd.stopMember("m1");
    // Before etcd could expire the lease and elect someone else.
    await waitFor(() => leadership.lost.aborted, "leadership lost");
    assert.match(String(leadership.lost.reason), /keepalive|lease/);
  } finally {
    await store.close();
    await etcd.close();
  }
});
