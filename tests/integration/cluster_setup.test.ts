/**
 * How a node sets up its cluster, with real node processes and real etcd:
 * Easegress's deprecated etcd URL options, the built-in etcd member left
 * running by a node killed with SIGKILL, etcd exits on a stop, and a
 * secondary whose cluster name is not its primaries'.
 */

import assert from "node:assert/strict";
import { freePort, requireEtcd } from "./cluster/etcd_fixture.ts";
import {
  cleanUpNodes,
  ClusterNode,
  etcdPidsUnder,
  killEtcdUnder,
  mockPipeline,
  startNodes,
} from "./cluster_helpers.ts";
import { eventually, startNodeProcess } from "./helpers.ts";
import { isHealthy } from "../../cluster/etcd_process.ts";

/**
 * A primary's built-in etcd flags: clients and peers served and advertised
 * on `client` and `peer`, with `initialCluster` when given.
 */
function etcdFlags(client: string, peer: string, initialCluster?: string): string[] {
  const flags = [
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
  ];
  return initialCluster === undefined ? flags : [...flags, "--initial-cluster", initialCluster];
}

/** The names of the members etcd at `endpoint` lists, asked through its leader. */
async function etcdMemberNames(endpoint: string): Promise<string[]> {
  const { Etcd3 } = await import("etcd3");
  const etcd = new Etcd3({ hosts: [endpoint] });
  try {
    const { members } = await etcd.cluster.memberList({ linearizable: true });
    return members.map((m) => m.name);
  } finally {
    etcd.close();
  }
}

async function stdoutLog(node: ClusterNode): Promise<string> {
  return await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
}

Deno.test("cluster: an old config's cluster-*-urls start etcd on them; a leftover etcd is ended on restart; a stop's etcd exit is no error", async () => {
  await requireEtcd();
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const nodes: ClusterNode[] = [];
  let passed = false;
  try {
    // As Easegress v2 still reads them: no initial cluster, the deprecated URL options.
    const node = await ClusterNode.start("m3", [
      "--cluster-name",
      "old-style",
      "--cluster-listen-client-urls",
      client,
      "--cluster-advertise-client-urls",
      client,
      "--cluster-listen-peer-urls",
      peer,
      "--cluster-initial-advertise-peer-urls",
      peer,
      "--cluster-request-timeout",
      "2s",
      "--workers",
      "0",
    ]);
    nodes.push(node);
    assert.match(node.output(), /--cluster-listen-client-urls is deprecated: taken as/);
    const [first] = await etcdPidsUnder(node.homeDir);
    assert.ok(first > 0, "the node runs an etcd member");
    assert.equal(await isHealthy(`${client}/health`), true, "on the URLs it was given");
    assert.equal((await node.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status, 201);

    // Killed at once: its etcd member lives on, adopted.
    await node.stop("SIGKILL");
    assert.deepEqual(await etcdPidsUnder(node.homeDir), [first]);
    await node.restart();
    const [second] = await etcdPidsUnder(node.homeDir);
    assert.deepEqual(await etcdPidsUnder(node.homeDir), [second]);
    assert.notEqual(second, first);
    let log = await stdoutLog(node);
    assert.match(log, new RegExp(`ended etcd pid ${first}, left running on .*data/etcd`));
    assert.doesNotMatch(log, /exited with code/);
    assert.equal((await node.api("GET", "/objects/p")).status, 200);
    assert.equal((await node.api("PUT", "/objects/p", mockPipeline("p", "v2", "two"))).status, 200);

    // A graceful stop ends etcd as asked: logged, not as an error.
    await node.restart();
    log = await stdoutLog(node);
    assert.match(log, new RegExp(`INFO\\s+cluster\\s+etcd member m3 stopped \\(exit code \\d+\\)`));
    assert.doesNotMatch(log, /ERROR.*etcd member m3 exited/);

    // A service manager stopping every process at once: etcd gets SIGTERM first.
    const [third] = await etcdPidsUnder(node.homeDir);
    Deno.kill(third, "SIGTERM");
    await eventually(
      "etcd is gone",
      async () => (await etcdPidsUnder(node.homeDir)).length === 0,
      5_000,
    );
    assert.equal(await node.stop(), 0);
    log = await stdoutLog(node);
    // The node's own stop kills its etcd (137); the service manager's SIGTERM ends it with 143.
    assert.match(
      log,
      /etcd member m3 stopped \(exit code 137\)[^]*etcd member m3 stopped \(exit code 143\)/,
    );
    assert.doesNotMatch(log, /ERROR.*etcd member m3 exited/);
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed, "SIGKILL");
  }
});

Deno.test("cluster: a primary whose etcd cannot serve on its URLs stops with a clear error", async () => {
  await requireEtcd();
  const port = freePort();
  const peer = `http://127.0.0.1:${freePort()}`;
  const stranger = Deno.listen({ hostname: "127.0.0.1", port });
  const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    await assert.rejects(
      startNodeProcess({
        homeDir,
        args: [
          "--name",
          "m1",
          ...etcdFlags(`http://127.0.0.1:${port}`, peer, `m1=${peer}`),
        ],
      }),
      (error: Error) => {
        assert.match(error.message, /node exited early/);
        assert.match(error.message, /\(listen-client-urls\) is in use by another process/);
        return true;
      },
    );
    assert.deepEqual(await etcdPidsUnder(homeDir), []);
  } finally {
    stranger.close();
    await killEtcdUnder(homeDir);
    await Deno.remove(homeDir, { recursive: true });
  }
});

Deno.test("cluster: a primary joining a running cluster under another cluster name is refused before etcd counts it", async () => {
  await requireEtcd();
  const [client1, peer1, client2, peer2] = [26631, 26632, 26633, 26634]
    .map((port) => `http://127.0.0.1:${port}`);
  const urls = (client: string, peer: string) => [...etcdFlags(client, peer), "--workers", "0"];
  const nodes: ClusterNode[] = [];
  let passed = false;
  try {
    nodes.push(
      await ClusterNode.start("a1", [
        "--cluster-name",
        "alpha",
        ...urls(client1, peer1),
        "--initial-cluster",
        `a1=${peer1}`,
      ], 26635),
    );
    await eventually("a1 lists itself", async () => {
      const listed = await nodes[0].ctl(["-o", "json", "member", "list"]);
      return listed.code === 0 && JSON.parse(listed.stdout).length === 1;
    });
    const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
    try {
      await assert.rejects(
        startNodeProcess({
          homeDir,
          apiPort: 26636,
          args: [
            "--name",
            "a2",
            "--cluster-name",
            "beta",
            "--state-flag",
            "existing",
            ...urls(client2, peer2),
            "--initial-cluster",
            `a1=${peer1},a2=${peer2}`,
          ],
        }),
        (error: Error) => {
          assert.match(
            error.message,
            /--cluster-name "beta" is not the cluster of the primaries at .*: their etcd members \(a1\) run cluster "alpha", and etcd holds no cluster "beta"; start this primary with --cluster-name alpha to join it/,
          );
          return true;
        },
      );
    } finally {
      await killEtcdUnder(homeDir);
      await Deno.remove(homeDir, { recursive: true });
    }
    // etcd's membership is as it was: a2's member, never to run, would hold back a1's quorum.
    assert.deepEqual(await etcdMemberNames(client1), ["a1"]);
    assert.equal(
      (await nodes[0].api("POST", "/objects", mockPipeline("p", "v1", "one"))).status,
      201,
    );
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});

Deno.test("cluster: a primary joining on a listen URL in use is refused before etcd counts it", async () => {
  await requireEtcd();
  const [client1, peer1, client2, peer2] = [26651, 26652, 26653, 26654]
    .map((port) => `http://127.0.0.1:${port}`);
  const nodes: ClusterNode[] = [];
  let passed = false;
  try {
    nodes.push(
      await ClusterNode.start("b1", [
        "--cluster-name",
        "busy",
        ...etcdFlags(client1, peer1, `b1=${peer1}`),
        "--workers",
        "0",
      ], 26655),
    );
    const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
    try {
      await assert.rejects(
        startNodeProcess({
          homeDir,
          apiPort: 26656,
          args: [
            "--name",
            "b2",
            "--cluster-name",
            "busy",
            "--state-flag",
            "existing",
            // b1's client URL: etcd could not start on it.
            "--listen-client-urls",
            client1,
            "--advertise-client-urls",
            client2,
            "--listen-peer-urls",
            peer2,
            "--initial-advertise-peer-urls",
            peer2,
            "--initial-cluster",
            `b1=${peer1},b2=${peer2}`,
            "--workers",
            "0",
          ],
        }),
        /Cannot start etcd member "b2": http:\/\/127.0.0.1:26651 \(listen-client-urls\) is in use by another process/,
      );
    } finally {
      await killEtcdUnder(homeDir);
      await Deno.remove(homeDir, { recursive: true });
    }
    // b2's member, added and never started, would have stopped b1's cluster of one.
    assert.deepEqual(await etcdMemberNames(client1), ["b1"]);
    assert.equal(
      (await nodes[0].api("POST", "/objects", mockPipeline("p", "v1", "one"))).status,
      201,
    );
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});

Deno.test("cluster: a secondary named for another cluster than its primaries' is refused, naming both", async () => {
  await requireEtcd();
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const nodes: ClusterNode[] = [];
  let passed = false;
  const secondary = (cluster: string, ...more: string[]) => [
    "--cluster-name",
    cluster,
    "--cluster-role",
    "secondary",
    "--primary-listen-peer-urls",
    peer,
    "--cluster-request-timeout",
    "2s",
    "--workers",
    "0",
    ...more,
  ];
  try {
    const primary = await ClusterNode.start("p1", [
      "--cluster-name",
      "alpha",
      ...etcdFlags(client, peer, `p1=${peer}`),
      "--workers",
      "0",
    ]);
    nodes.push(primary);
    await eventually("p1 lists itself", async () => {
      const listed = await primary.ctl(["-o", "json", "member", "list"]);
      return listed.code === 0 && JSON.parse(listed.stdout).length === 1;
    });

    const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
    try {
      await assert.rejects(
        startNodeProcess({ homeDir, args: ["--name", "s1", ...secondary("beta")] }),
        (error: Error) => {
          assert.match(error.message, /node exited early/);
          assert.match(
            error.message,
            /--cluster-name "beta" is not the cluster of the primaries at .*: their etcd members \(p1\) run cluster "alpha"/,
          );
          return true;
        },
      );
    } finally {
      await Deno.remove(homeDir, { recursive: true });
    }
    const listed = await primary.ctl(["-o", "json", "member", "list"]);
    assert.deepEqual(JSON.parse(listed.stdout).map((m: { name: string }) => m.name), ["p1"]);

    // Its primaries' name is fine, and so is a new cluster on an etcd used as one's own.
    nodes.push(await ClusterNode.start("s2", secondary("alpha")));
    const own = await ClusterNode.start("s3", [
      "--cluster-name",
      "gamma",
      "--use-standalone-etcd",
      "--primary-listen-peer-urls",
      client,
      "--workers",
      "0",
    ]);
    nodes.push(own);
    assert.match(
      await stdoutLog(own),
      /cluster "gamma" is new on etcd at .*, which holds clusters "alpha"/,
    );
    await eventually("alpha lists p1 and s2", async () => {
      const members = await primary.ctl(["-o", "json", "member", "list"]);
      return JSON.stringify(JSON.parse(members.stdout).map((m: { name: string }) => m.name)) ===
        '["p1","s2"]';
    });
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed, "SIGKILL");
  }
});

Deno.test("cluster: a primary restarted on its etcd data under another cluster name is refused", async () => {
  await requireEtcd();
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const [client1, peer1, client2, peer2] = [17701, 17702, 17703, 17704].map(url);
  const initialCluster = `r1=${peer1},r2=${peer2}`;
  const args = (client: string, peer: string) => [
    ...etcdFlags(client, peer, initialCluster),
    "--workers",
    "0",
  ];
  const nodes = await startNodes([
    {
      name: "r1",
      args: ["--cluster-name", "alpha", ...args(client1, peer1)],
      apiPort: 17705,
    },
    {
      name: "r2",
      args: ["--cluster-name", "alpha", ...args(client2, peer2)],
      apiPort: 17706,
    },
  ]);
  let passed = false;
  try {
    await eventually("both primaries list themselves", async () => {
      const listed = await nodes[1].ctl(["-o", "json", "member", "list"]);
      return listed.code === 0 && JSON.parse(listed.stdout).length === 2;
    });
    await nodes[0].stop();
    const restarted = await startNodeProcess({
      homeDir: nodes[0].homeDir,
      apiPort: 17705,
      args: ["--name", "r1", "--cluster-name", "beta", ...args(client1, peer1)],
    }).catch((error: Error) => error);
    if (!(restarted instanceof Error)) {
      await restarted.stop();
      assert.fail("r1 started under cluster beta");
    }
    assert.match(
      restarted.message,
      /--cluster-name "beta" is not the cluster of the primaries at .*: their etcd members \(r2\) run cluster "alpha", and etcd holds no cluster "beta"/,
    );
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});
