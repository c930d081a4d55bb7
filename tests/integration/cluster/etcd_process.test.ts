import assert from "node:assert/strict";
import { isHealthy, startEtcdProcess } from "../../../cluster/etcd_process.ts";
import { openEtcdStore } from "../../../cluster/etcd_store.ts";
import { StoreUnavailableError } from "../../../cluster/store.ts";
import { waitFor } from "../../unit/cluster/store_conformance.ts";
import { freePort, requireEtcd, TestEtcdCluster } from "./etcd_fixture.ts";

Deno.test("three etcd members keep accepting writes with one killed", async () => {
  const etcd = await TestEtcdCluster.start(3);
  const store = await openEtcdStore({
    endpoints: etcd.endpoints,
    clusterName: "trio",
    memberName: "node-1",
    // A write in flight when the leader dies waits out this timeout.
    requestTimeoutMs: 2_000,
  });
  try {
    assert.equal(await store.put("/config/objects/a", "before"), true);
    const log = await Deno.readTextFile(etcd.process("m1").logFile);
    assert.match(log, /m1/, "etcd logs to etcd_server.log in the log dir");

    await etcd.killMember("m1");
    // Quorum (2 of 3) remains; a write may meet a leader election and is retried.
    await waitFor(async () => {
      try {
        return await store.put("/config/objects/b", "after");
      } catch (error) {
        if (error instanceof StoreUnavailableError) return false;
        throw error;
      }
    }, "a write with m1 dead");
    const values = (await store.range("/config/objects/")).map((kv) => kv.value);
    assert.deepEqual(values, ["before", "after"]);

    // The killed member rejoins with its data and catches up.
    await etcd.startMember("m1");
    const m1Only = await openEtcdStore({
      endpoints: [etcd.members[0].clientUrl],
      clusterName: "trio",
      memberName: "reader",
    });
    try {
      assert.equal((await m1Only.get("/config/objects/b"))?.value, "after");
    } finally {
      await m1Only.close();
    }
  } finally {
    await store.close();
    await etcd.close();
  }
});

Deno.test("startEtcdProcess() reports etcd's log when etcd exits at start", async () => {
  await requireEtcd();
  const dir = await Deno.makeTempDir({ prefix: "eg-etcd-bad-" });
  try {
    const peerUrl = `http://127.0.0.1:${freePort()}`;
    await assert.rejects(
      () =>
        startEtcdProcess({
          name: "lonely",
          dataDir: `${dir}/data`,
          logDir: `${dir}/log`,
          listenClientUrls: [`http://127.0.0.1:${freePort()}`],
          listenPeerUrls: [peerUrl],
          // The member's own name is missing from the initial cluster.
          initialCluster: `someone-else=${peerUrl}`,
          initialClusterToken: "bad",
        }),
      (error: Error) => {
        assert.match(error.message, /etcd member "lonely" exited with code \d+ while starting/);
        assert.match(error.message, /etcd_server\.log/);
        assert.match(error.message, /lonely/); // etcd's own complaint, from the log tail
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startEtcdProcess() names the package when the binary is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () =>
        startEtcdProcess({
          name: "m",
          dataDir: `${dir}/data`,
          logDir: `${dir}/log`,
          listenClientUrls: ["http://127.0.0.1:1"],
          listenPeerUrls: ["http://127.0.0.1:2"],
          initialClusterToken: "t",
          binary: "etcd-that-does-not-exist",
        }),
      /not found \(install the Debian package etcd-server\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startEtcdProcess() refuses a listen URL another process holds, naming it", async () => {
  await requireEtcd();
  const dir = await Deno.makeTempDir({ prefix: "eg-etcd-busy-" });
  const port = freePort();
  const stranger = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    await assert.rejects(
      () =>
        startEtcdProcess({
          name: "busy",
          dataDir: `${dir}/data`,
          logDir: `${dir}/log`,
          listenClientUrls: [`http://127.0.0.1:${port}`],
          listenPeerUrls: [`http://127.0.0.1:${freePort()}`],
          initialClusterToken: "busy",
        }),
      new RegExp(
        `etcd member "busy": http://127\\.0\\.0\\.1:${port} \\(listen-client-urls\\) is in use`,
      ),
    );
  } finally {
    stranger.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startEtcdProcess() ends an etcd an earlier run left on the member's data dir", async () => {
  await requireEtcd();
  const dir = await Deno.makeTempDir({ prefix: "eg-etcd-leftover-" });
  const clientUrl = `http://127.0.0.1:${freePort()}`;
  const peerUrl = `http://127.0.0.1:${freePort()}`;
  const options = {
    name: "m3",
    dataDir: `${dir}/data`,
    logDir: `${dir}/log`,
    listenClientUrls: [clientUrl],
    listenPeerUrls: [peerUrl],
    initialClusterToken: "leftover",
    readyTimeoutMs: 30_000,
  };
  let leftoverPid = 0;
  try {
    // A node killed with SIGKILL: its etcd lives on, adopted, its pid file left behind.
    const first = await startEtcdProcess(options);
    const pidFile = `${dir}/data.pid`;
    assert.equal(await Deno.readTextFile(pidFile), `${first.pid} ${Deno.pid}\n`);
    await first.stop();
    assert.equal(await Deno.readTextFile(pidFile).catch(() => "gone"), "gone");
    const shell = await new Deno.Command("sh", {
      args: [
        "-c",
        `etcd --name=m3 --data-dir=${dir}/data --listen-client-urls=${clientUrl} ` +
        `--advertise-client-urls=${clientUrl} --listen-peer-urls=${peerUrl} ` +
        `--initial-advertise-peer-urls=${peerUrl} --initial-cluster=m3=${peerUrl} ` +
        `>/dev/null 2>&1 & echo $!`,
      ],
      stdout: "piped",
    }).output();
    leftoverPid = Number(new TextDecoder().decode(shell.stdout).trim());
    // Written as the killed node had written it: etcd's pid, then the node's (gone now).
    await Deno.writeTextFile(pidFile, `${leftoverPid} 999999999\n`);
    await waitFor(() => isHealthy(`${clientUrl}/health`), "the leftover etcd answers");

    const ended: number[] = [];
    const second = await startEtcdProcess({ ...options, onLeftover: (pid) => ended.push(pid) });
    try {
      assert.deepEqual(ended, [leftoverPid]);
      assert.notEqual(second.pid, leftoverPid);
      // Gone, or a zombie its adopter has yet to reap (no command line).
      assert.equal(await Deno.readTextFile(`/proc/${leftoverPid}/cmdline`).catch(() => ""), "");
      assert.equal(await Deno.readTextFile(pidFile), `${second.pid} ${Deno.pid}\n`);
      // A few moments on, the new member still runs: it is the one answering.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(second.exitStatus, undefined);
      assert.equal(await isHealthy(`${clientUrl}/health`), true);
    } finally {
      await second.stop();
    }
  } finally {
    try {
      if (leftoverPid) Deno.kill(leftoverPid, "SIGKILL");
    } catch { /* ended as it should be */ }
    await Deno.remove(dir, { recursive: true });
  }
});
