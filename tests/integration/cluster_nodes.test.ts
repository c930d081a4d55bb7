/**
 * Several real node processes sharing config, membership and status
 * through real etcd (Debian `etcd-server`) on loopback.
 *
 * How traffic is checked per node: objects are cluster-wide, so every node
 * runs the same HTTPServer on the same port, sharing it with `reusePort`.
 * A request to that port reaches whichever node's listener the kernel
 * picks. So a check sends many requests, each on a new connection, and
 * holds only when every answer is the expected one AND each node's own
 * served count (its live status, read from its own admin API) went up
 * meanwhile: each node then answered some of them, with the expected body.
 * Which config a node applied is also read directly: the Mock filter is
 * renamed on every update, and a node's live Pipeline status lists its
 * filters by name.
 */

import assert from "node:assert/strict";
import { freePort, requireEtcd, TestEtcdCluster } from "./cluster/etcd_fixture.ts";
import {
  cleanUpNodes,
  type ClusterNode,
  etcdPidsUnder,
  everyNodeServes,
  initialClusterOf,
  killEtcdUnder,
  loopbackServer,
  mockPipeline,
  primaryFlags,
  type PrimaryPlan,
  primaryPlans,
  printNodeLogs,
  sendOnNewConnections,
  startNodes,
} from "./cluster_helpers.ts";
import { eventually, startNodeProcess } from "./helpers.ts";

/** The issue asks for a change to reach every node within 2 s. */
const PROPAGATION_MS = 2_000;
/**
 * Status sync runs at wall-clock multiples of 5 s: two rounds of it, as a
 * round may fall behind on a machine running many tests at once.
 */
const STATUS_SYNC_MS = 12_000;
/** A member is listed as not alive after two missed heartbeats. */
const ALIVE_WINDOW_MS = 10_000;
const ETCD_OUTAGE_MS = 10_000;

/** The filter names the node's live Pipeline status lists. */
async function runningFilters(node: ClusterNode, pipeline: string): Promise<string[]> {
  const status = await node.localStatus(pipeline);
  return Object.keys((status?.filters ?? {}) as Record<string, unknown>);
}

/** True when every node runs `pipeline` with the one filter `filter`. */
async function everyNodeRuns(nodes: ClusterNode[], pipeline: string, filter: string) {
  const running = await Promise.all(nodes.map((node) => runningFilters(node, pipeline)));
  return running.every((filters) => filters.length === 1 && filters[0] === filter);
}

interface Member {
  name: string;
  role: string;
  apiAddr: string;
  lastHeartbeatTime: string;
  alive: boolean;
}

async function members(node: ClusterNode): Promise<Member[]> {
  const listed = await node.ctl(["-o", "json", "member", "list"]);
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout);
}

Deno.test("cluster: three nodes on one etcd share config, members and status", async (t) => {
  const etcd = await TestEtcdCluster.start(1);
  const port = freePort();
  const common = [
    "--cluster-name",
    "shop",
    "--etcd-endpoints",
    etcd.endpoints[0],
    // Admin calls fail fast (503) while etcd is away.
    "--cluster-request-timeout",
    "2s",
  ];
  const nodes = await startNodes([
    { name: "n1", args: common },
    { name: "n2", args: common },
    { name: "n3", args: [...common, "--cluster-role", "secondary"] },
  ]).catch(async (error) => {
    await etcd.close();
    throw error;
  });
  const [n1, n2, n3] = nodes;
  let failed = false;
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step({ name, fn, ignore: failed })) failed = true;
  };
  try {
    await step("an object created on node 1 serves traffic on every node", async () => {
      assert.equal((await n1.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status, 201);
      assert.equal((await n1.api("POST", "/objects", loopbackServer("s", port, "p"))).status, 201);
      await eventually(
        "n3 runs server s and pipeline p",
        async () =>
          (await n3.localStatus("s"))?.state === "running" && await everyNodeRuns([n3], "p", "v1"),
        PROPAGATION_MS,
      );
      await eventually("every node answers one", () => everyNodeServes(nodes, "s", port, "one"));
    });

    await step("member list on any node shows all three, alive", async () => {
      const listed = await members(n2);
      assert.deepEqual(listed.map((m) => [m.name, m.role, m.apiAddr, m.alive]), [
        ["n1", "primary", n1.apiAddr, true],
        ["n2", "primary", n2.apiAddr, true],
        ["n3", "secondary", n3.apiAddr, true],
      ]);
      for (const m of listed) assert.ok(!Number.isNaN(Date.parse(m.lastHeartbeatTime)), m.name);
    });

    await step("object status on any node shows every member", async () => {
      await eventually("n1 shows the status of s on n1, n2 and n3", async () => {
        const shown = await n1.ctl(["-o", "json", "object", "status", "get", "s"]);
        const byMember = JSON.parse(shown.stdout) as Record<string, { state: string }>;
        return Object.keys(byMember).sort().join() === "n1,n2,n3" &&
          Object.values(byMember).every((s) => s.state === "running");
      }, STATUS_SYNC_MS);
    });

    await step("an update on node 2 reaches every node", async () => {
      assert.equal((await n2.api("PUT", "/objects/p", mockPipeline("p", "v2", "two"))).status, 200);
      await eventually("every node runs v2", () => everyNodeRuns(nodes, "p", "v2"), PROPAGATION_MS);
      await eventually("every node answers two", () => everyNodeServes(nodes, "s", port, "two"));
    });

    await step("concurrent updates from two nodes end in one value everywhere", async () => {
      const writes = Array.from(
        { length: 8 },
        (_, i) => ({ node: i % 2 ? n2 : n1, name: `c${i}` }),
      );
      const answers = await Promise.all(
        writes.map((w) => w.node.api("PUT", "/objects/p", mockPipeline("p", w.name, w.name))),
      );
      // Compare-and-swap on the revision: a write that raced another gets 409.
      for (const a of answers) assert.ok(a.status === 200 || a.status === 409, JSON.stringify(a));
      const accepted = writes.filter((_, i) => answers[i].status === 200).map((w) => w.name);
      assert.ok(accepted.length >= 1, "at least one write wins");
      const stored = await Promise.all(
        nodes.map(async (node) => (await node.api("GET", "/objects/p")).body),
      );
      assert.deepEqual(stored[1], stored[0]);
      assert.deepEqual(stored[2], stored[0]);
      const final = (stored[0] as { filters: { name: string }[] }).filters[0].name;
      assert.ok(accepted.includes(final), `${final} is one of the accepted writes ${accepted}`);
      await eventually(
        `every node runs ${final}`,
        () => everyNodeRuns(nodes, "p", final),
        PROPAGATION_MS,
      );
      await eventually(
        `every node answers ${final}`,
        () => everyNodeServes(nodes, "s", port, final),
      );
    });

    await step("with etcd stopped, nodes keep serving and admin writes get 503", async () => {
      const final = (await runningFilters(n1, "p"))[0];
      const before = await Promise.all(nodes.map((node) => node.servedCount("s")));
      const outageEnds = Date.now() + ETCD_OUTAGE_MS;
      await etcd.stopMember("m1");
      try {
        assert.deepEqual(new Set(await sendOnNewConnections(port, 45)), new Set([final]));
        const refused = await n1.ctl(["object", "create"], mockPipeline("q", "q", "q"));
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /503.*the config store is unavailable.*etcd.*unavailable/);
        const answer = await n2.api("PUT", "/objects/p", mockPipeline("p", "x", "x"));
        assert.equal(answer.status, 503);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
        // Still serving after 10 s without etcd.
        assert.deepEqual(new Set(await sendOnNewConnections(port, 45)), new Set([final]));
      } finally {
        await etcd.startMember("m1");
      }
      // Status reads need etcd; read them before any more traffic: the
      // counts rose on every node, so each served some of the outage's requests.
      await eventually(
        "admin API answers again",
        async () => (await n1.api("GET", "/objects")).status === 200,
      );
      const after = await Promise.all(nodes.map((node) => node.servedCount("s")));
      nodes.forEach((node, i) =>
        assert.ok(after[i] > before[i], `${node.name} served in the outage`)
      );
    });

    await step("after etcd returns, a change made then reaches every node", async () => {
      await eventually(
        "the update is accepted",
        async () =>
          (await n2.api("PUT", "/objects/p", mockPipeline("p", "back", "back"))).status === 200,
      );
      await eventually(
        "every node runs back",
        () => everyNodeRuns(nodes, "p", "back"),
        PROPAGATION_MS,
      );
      await eventually("every node answers back", () => everyNodeServes(nodes, "s", port, "back"));
      await eventually("every member is alive again", async () => {
        return (await members(n3)).every((m) => m.alive);
      }, STATUS_SYNC_MS);
    });

    await step("a restarted node rebuilds from etcd", async () => {
      await n3.stop();
      assert.equal(
        (await n1.api("PUT", "/objects/p", mockPipeline("p", "v3", "three"))).status,
        200,
      );
      await n3.restart();
      // Nothing local to rebuild from: cluster nodes keep no embedded store.
      await assert.rejects(Deno.stat(`${n3.homeDir}/data/store.json`), Deno.errors.NotFound);
      await eventually("n3 runs v3", () => everyNodeRuns([n3], "p", "v3"), PROPAGATION_MS);
      await eventually(
        "every node answers three",
        () => everyNodeServes(nodes, "s", port, "three"),
      );
    });

    await step("a killed node is listed as not alive, and purge removes it", async () => {
      await eventually("n2's status of s is synced", async () => {
        const all = (await n1.api("GET", "/status/objects/s")).body as Record<string, unknown>;
        return "n2" in all;
      }, STATUS_SYNC_MS);
      await n2.stop("SIGKILL");
      // Not alive after two missed heartbeats; its keys would vanish by
      // themselves when its lease ends, 10 s or more later.
      await eventually("n2 not alive", async () => {
        const listed = (await n1.api("GET", "/status/members")).body as Member[];
        return listed.find((m) => m.name === "n2")?.alive === false;
      }, ALIVE_WINDOW_MS + 3_000);
      const purged = await n1.ctl(["member", "purge", "n2"]);
      assert.equal(purged.code, 0, purged.stderr);
      assert.deepEqual((await members(n3)).map((m) => m.name), ["n1", "n3"]);
      const statuses = (await n3.api("GET", "/status/objects/s")).body as Record<string, unknown>;
      assert.deepEqual(Object.keys(statuses).sort(), ["n1", "n3"]);
      assert.equal((await n1.api("DELETE", "/status/members/n2")).status, 404);
    });

    await step("a delete on node 1 reaches the others", async () => {
      assert.equal((await n1.api("DELETE", "/objects/s")).status, 200);
      assert.equal((await n1.api("DELETE", "/objects/p")).status, 200);
      await eventually("n3 no longer runs s or p", async () => {
        const running = await n3.api("GET", "/status/objects");
        return JSON.stringify(running.body) === "{}" && (await n3.localStatus("s")) === undefined;
      }, PROPAGATION_MS);
      // Refused only once every node has closed its listener.
      await eventually(
        "the port is closed on every node",
        async () => (await sendOnNewConnections(port, 5)).every((b) => b.startsWith("refused")),
      );
    });
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    if (failed) await printNodeLogs(nodes);
    await etcd.close();
    await Promise.all(nodes.map((node) => Deno.remove(node.homeDir, { recursive: true })));
  }
});

Deno.test("cluster: three primaries run their own etcd; two keep accepting writes when one dies, which is purged and comes back", async () => {
  await requireEtcd();
  const plans = primaryPlans(["p1", "p2", "p3"]);
  const initialCluster = initialClusterOf(plans);
  const primaryArgs = (p: PrimaryPlan) => [
    ...primaryFlags(p, "built-in", initialCluster),
    "--cluster-request-timeout",
    "2s",
  ];
  const nodes = await startNodes(plans.map((p) => ({ name: p.name, args: primaryArgs(p) })));
  const [p1, p2, p3] = [...nodes];
  let passed = false;
  try {
    for (const node of nodes) {
      assert.equal((await etcdPidsUnder(node.homeDir)).length, 1, `${node.name} runs one etcd`);
    }
    assert.equal((await p1.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status, 201);
    await eventually("p3 runs p", () => everyNodeRuns([p3], "p", "v1"), PROPAGATION_MS);
    const listed = (await p2.api("GET", "/status/members")).body as (Member & {
      etcd: { state: string };
    })[];
    assert.deepEqual(listed.map((m) => [m.name, m.role, m.alive]), [
      ["p1", "primary", true],
      ["p2", "primary", true],
      ["p3", "primary", true],
    ]);
    assert.equal(listed.filter((m) => m.etcd.state === "Leader").length, 1, JSON.stringify(listed));
    // A secondary given only p1's URL: it follows the other primaries when p1 goes.
    const [secondary] = await startNodes([{
      name: "s1",
      args: [
        "--cluster-name",
        "built-in",
        "--cluster-role",
        "secondary",
        "--primary-listen-peer-urls",
        plans[0].peer,
        "--cluster-request-timeout",
        "2s",
      ],
    }]);
    nodes.push(secondary);

    // A primary's host dies: the node and its etcd member, both at once.
    await p1.stop("SIGKILL");
    assert.equal(await killEtcdUnder(p1.homeDir), 1);

    // If p1's member led etcd, the other two elect a new leader first (about a second).
    await eventually(
      "p2 accepts a create",
      async () => (await p2.api("POST", "/objects", mockPipeline("q", "q1", "q"))).status === 201,
    );
    assert.equal((await p3.api("PUT", "/objects/p", mockPipeline("p", "v2", "two"))).status, 200);
    await eventually(
      "the secondary accepts a create",
      async () =>
        (await secondary.api("POST", "/objects", mockPipeline("r", "r1", "r"))).status === 201,
    );
    await eventually(
      "p2 and p3 run the changes",
      async () =>
        await everyNodeRuns([p2, p3], "p", "v2") && await everyNodeRuns([p2, p3], "q", "q1"),
      PROPAGATION_MS,
    );

    // Purging p1 takes it out of etcd's membership as well: quorum is two of two now.
    assert.equal((await p2.api("DELETE", "/status/members/p1")).status, 200);
    const etcdMembers = await fetch(`${plans[1].client}/v3/cluster/member/list`, {
      method: "POST",
      body: "{}",
    }).then((r) => r.json()) as { members: { name: string }[] };
    assert.deepEqual(etcdMembers.members.map((m) => m.name).sort(), ["p2", "p3"]);
    assert.equal((await p3.api("DELETE", "/status/members/p1")).status, 404);
    assert.equal((await p3.api("PUT", "/objects/q", mockPipeline("q", "q2", "q"))).status, 200);

    // p1 comes back with a clean data dir, joining the running cluster.
    const [back] = await startNodes([{
      name: "p1",
      args: [...primaryArgs(plans[0]), "--state-flag", "existing"],
    }]);
    nodes.push(back);
    await eventually(
      "p1 runs the cluster's objects again",
      () => everyNodeRuns([back], "q", "q2"),
      PROPAGATION_MS,
    );
    const rejoined = await fetch(`${plans[0].client}/v3/cluster/member/list`, {
      method: "POST",
      body: "{}",
    }).then((r) => r.json()) as { members: { name: string }[] };
    assert.deepEqual(rejoined.members.map((m) => m.name).sort(), ["p1", "p2", "p3"]);

    // p2's own etcd member fails, the node lives on: it reaches the others'.
    assert.equal(await killEtcdUnder(p2.homeDir), 1);
    await eventually(
      "p2 accepts a create without its own etcd member",
      async () => (await p2.api("POST", "/objects", mockPipeline("t", "t1", "t"))).status === 201,
      15_000,
    );

    // One primary stops gracefully: the others, connected to its member, serve on. (An etcd
    // that stops gracefully sends its clients GOAWAY, which could abort another node.)
    assert.equal(await p3.stop(), 0);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const node of [p2, back, secondary]) {
      assert.equal((await node.api("GET", "/healthz")).status, 200, `${node.name} serves on`);
    }

    // A graceful stop takes the node's etcd member down with it.
    const codes = await Promise.all([p2.stop(), back.stop(), secondary.stop()]);
    assert.deepEqual(codes, [0, 0, 0]);
    for (const node of nodes) {
      await eventually(
        `${node.name}'s etcd is gone`,
        async () => (await etcdPidsUnder(node.homeDir)).length === 0,
      );
    }
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed, "SIGKILL");
  }
});

Deno.test("cluster: options that cannot form a cluster stop the node with a clear message", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["--name", "b", "--initial-cluster", "a=http://127.0.0.1:1"],
      /--initial-cluster has no member named "b"/,
    ],
    [
      ["--etcd-endpoints", "http://127.0.0.1:1", "--cluster-request-timeout", "soon"],
      /--cluster-request-timeout: "soon" is not a positive duration/,
    ],
  ];
  for (const [args, message] of cases) {
    const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
    try {
      await assert.rejects(startNodeProcess({ homeDir, args }), (error: Error) => {
        assert.match(error.message, /node exited early/);
        assert.match(error.message, message);
        return true;
      });
    } finally {
      await Deno.remove(homeDir, { recursive: true });
    }
  }
});

Deno.test("cluster: a node started before its etcd waits for it, then joins", async () => {
  const etcd = await TestEtcdCluster.start(1);
  await etcd.stopMember("m1");
  let node: Awaited<ReturnType<typeof startNodeProcess>> | undefined;
  const failedOnce = Promise.withResolvers<void>();
  try {
    const starting = startNodeProcess({
      onOutput: (printed) => {
        if (/cannot reach etcd/.test(printed)) failedOnce.resolve();
      },
      args: [
        "--name",
        "late",
        "--cluster-role",
        "secondary",
        "--etcd-endpoints",
        etcd.endpoints[0],
        "--cluster-request-timeout",
        "500ms",
      ],
    });
    // etcd comes back only once the node has failed to reach it, however slow its start.
    await Promise.race([failedOnce.promise, starting]);
    await etcd.startMember("m1");
    node = await starting;
    assert.match(
      node.output(),
      /cannot reach etcd at http:\/\/127\.0\.0\.1:\d+: .*trying again in 5 s/,
    );
    const listed = await node.ctl(["-o", "json", "member", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((m: Member) => m.name), ["late"]);
  } finally {
    await node?.stop();
    await etcd.close();
  }
});

Deno.test("cluster: a second node under a running member's name is refused; the member restarted after a crash is not", async () => {
  const etcd = await TestEtcdCluster.start(1);
  const args = ["--cluster-role", "secondary", "--etcd-endpoints", etcd.endpoints[0]];
  let nodes: ClusterNode[] = [];
  const homeDir = await Deno.makeTempDir({ prefix: "eg-test-" });
  let passed = false;
  try {
    nodes = await startNodes([{ name: "twin", args }]);
    const [twin] = nodes;
    await assert.rejects(
      startNodeProcess({ homeDir, args: ["--name", "twin", ...args] }),
      (error: Error) => {
        assert.match(error.message, /node exited early/);
        assert.match(error.message, /another node runs as member "twin" of cluster \S+ \(admin/);
        assert.ok(error.message.includes(`admin API ${twin.apiAddr}, last heartbeat`));
        assert.match(error.message, /give this node another --name/);
        return true;
      },
    );
    assert.deepEqual((await members(twin)).map((m) => [m.name, m.apiAddr, m.alive]), [
      ["twin", twin.apiAddr, true],
    ]);
    // Killed, its member document stays fresh for a while: its own restart goes on.
    await twin.stop("SIGKILL");
    await twin.restart();
    assert.deepEqual((await members(twin)).map((m) => [m.name, m.alive]), [["twin", true]]);
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
    await Deno.remove(homeDir, { recursive: true });
    await etcd.close();
  }
});

Deno.test("cluster: a node stops within seconds while its etcd answers nothing", async () => {
  const etcd = await TestEtcdCluster.start(1);
  const args = ["--cluster-role", "secondary", "--etcd-endpoints", etcd.endpoints[0]];
  let nodes: ClusterNode[] = [];
  const pid = etcd.process("m1").pid;
  let passed = false;
  try {
    nodes = await startNodes([{ name: "quick", args }]);
    Deno.kill(pid, "SIGSTOP"); // accepts connections, answers nothing
    const began = Date.now();
    await nodes[0].stop();
    // Each loop used to wait out its etcd call's 10 s timeout in turn: over 30 s in all.
    const took = Date.now() - began;
    assert.ok(took < 15_000, `stop took ${took} ms`);
    passed = true;
  } finally {
    Deno.kill(pid, "SIGCONT");
    await cleanUpNodes(nodes, passed);
    await etcd.close();
  }
});

Deno.test("cluster: an etcd endpoint with a trailing slash or a path is reached at its host", async () => {
  const etcd = await TestEtcdCluster.start(1);
  let nodes: ClusterNode[] = [];
  let passed = false;
  try {
    nodes = await startNodes([{
      name: "slashed",
      args: ["--cluster-role", "secondary", "--etcd-endpoints", `${etcd.endpoints[0]}/v3/`],
    }]);
    assert.deepEqual((await members(nodes[0])).map((m) => [m.name, m.alive]), [["slashed", true]]);
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
    await etcd.close();
  }
});

Deno.test("cluster: Easegress config files start a primary with its etcd and a secondary that joins it", async () => {
  await requireEtcd();
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const dir = await Deno.makeTempDir({ prefix: "eg-config-" });
  // As Easegress's multi-node cookbook writes them: `initial-cluster` as a list of one-entry
  // maps, empty values, keys this node has no use for, and a secondary given a peer URL.
  const common = `cluster-name: cluster-test
cluster-request-timeout: 2s
data-dir: ./data
wal-dir: ""
cpu-profile-file:
memory-profile-file:
log-dir: ./log
debug: false
`;
  const primaryFile = `${dir}/primary.yaml`;
  await Deno.writeTextFile(
    primaryFile,
    `name: machine-1
cluster-role: primary
${common}member-dir: ./member
status-update-max-batch-size: 20
cluster:
  listen-peer-urls:
   - ${peer}
  listen-client-urls:
   - ${client}
  advertise-client-urls:
   - ${client}
  initial-advertise-peer-urls:
   - ${peer}
  initial-cluster:
   - machine-1: ${peer}
`,
  );
  const secondaryFile = `${dir}/secondary.yaml`;
  await Deno.writeTextFile(
    secondaryFile,
    `name: machine-4
cluster-role: secondary
${common}cluster:
  primary-listen-peer-urls: ${peer}
`,
  );
  const nodes: ClusterNode[] = [];
  let passed = false;
  try {
    nodes.push(...await startNodes([{ name: "machine-1", args: ["-f", primaryFile] }]));
    nodes.push(...await startNodes([{ name: "machine-4", args: ["-f", secondaryFile] }]));
    const [primary, secondary] = nodes;
    assert.equal((await etcdPidsUnder(primary.homeDir)).length, 1, "the primary runs etcd");
    assert.equal((await etcdPidsUnder(secondary.homeDir)).length, 0, "the secondary runs none");
    assert.equal(
      (await secondary.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status,
      201,
    );
    await eventually("the primary runs p", () => everyNodeRuns([primary], "p", "v1"));
    const listed = (await primary.api("GET", "/status/members")).body as Member[];
    assert.deepEqual(listed.map((m) => [m.name, m.role]), [
      ["machine-1", "primary"],
      ["machine-4", "secondary"],
    ]);
    // The files Easegress keeps in its home dir.
    const pid = Number((await Deno.readTextFile(`${primary.homeDir}/easegress.pid`)).trim());
    assert.ok(pid > 0);
    await eventually("running_objects.yaml lists p", async () => {
      const text = await Deno.readTextFile(`${secondary.homeDir}/running_objects.yaml`)
        .catch(() => "");
      return /name: p\n/.test(text);
    });
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster: a primary joining with --state-flag existing starts with the members etcd has", async () => {
  await requireEtcd();
  const plans = primaryPlans(["g1", "g2", "g3"]);
  const primaryArgs = (p: PrimaryPlan, initialCluster: string) => [
    ...primaryFlags(p, "growing", initialCluster),
    "--cluster-request-timeout",
    "2s",
  ];
  const nodes: ClusterNode[] = [];
  let passed = false;
  try {
    // g1 runs alone (as after --force-new-cluster); g2 comes with the list of all three, g3
    // not there: etcd takes g2 only with the members it has, and without g2 started the
    // cluster would have no quorum.
    nodes.push(
      ...await startNodes([{ name: "g1", args: primaryArgs(plans[0], `g1=${plans[0].peer}`) }]),
    );
    const all = initialClusterOf(plans);
    nodes.push(
      ...await startNodes([{
        name: "g2",
        args: [...primaryArgs(plans[1], all), "--state-flag", "existing"],
      }]),
    );
    const [g1, g2] = nodes;
    assert.equal((await g1.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status, 201);
    await eventually("g2 runs p", () => everyNodeRuns([g2], "p", "v1"), PROPAGATION_MS);
    const etcdMembers = await fetch(`${plans[0].client}/v3/cluster/member/list`, {
      method: "POST",
      body: "{}",
    }).then((r) => r.json()) as { members: { name: string }[] };
    assert.deepEqual(etcdMembers.members.map((m) => m.name).sort(), ["g1", "g2"]);
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});

Deno.test("cluster: a primary restarted while the others are down waits for them, as Easegress does", async () => {
  await requireEtcd();
  const plans = primaryPlans(["w1", "w2"]).map((p) => ({ ...p, apiPort: freePort() }));
  const initialCluster = initialClusterOf(plans);
  const homeDirs = await Promise.all(plans.map(() => Deno.makeTempDir({ prefix: "eg-test-" })));
  const start = (i: number, startTimeoutMs?: number) =>
    startNodeProcess({
      homeDir: homeDirs[i],
      apiPort: plans[i].apiPort,
      startTimeoutMs,
      args: ["--name", plans[i].name, ...primaryFlags(plans[i], "restarting", initialCluster)],
    });
  const nodes: Awaited<ReturnType<typeof startNodeProcess>>[] = [];
  try {
    nodes.push(...await Promise.all([start(0), start(1)]));
    const created = await nodes[0].ctl(["object", "create"], mockPipeline("p", "v1", "one"));
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(await Promise.all(nodes.map((node) => node.stop())), [0, 0]);
    nodes.length = 0;

    // w1 comes back first, and w2 only after the minute a member was given before.
    const first = start(0, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 65_000));
    nodes.push(...await Promise.all([first, start(1)]));
    assert.match(
      nodes[0].output(),
      /etcd member w1 not healthy after 1\d s: waiting \(up to 10 min\) for a quorum of w1, w2 to run/,
    );
    const got = await nodes[1].ctl(["object", "get", "p"]);
    assert.equal(got.code, 0, got.stderr);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const dir of homeDirs) {
      await killEtcdUnder(dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("cluster: a purged primary restarted on its old etcd data is told to remove it", async () => {
  await requireEtcd();
  const plans = primaryPlans(["k1", "k2", "k3"], 26601);
  const initialCluster = initialClusterOf(plans);
  const nodes = await startNodes(plans.map((p, i) => ({
    name: p.name,
    args: primaryFlags(p, "purged-data", initialCluster),
    apiPort: 26611 + i,
  })));
  const [k1, , k3] = nodes;
  let passed = false;
  try {
    await k3.stop("SIGKILL");
    assert.equal(await killEtcdUnder(k3.homeDir), 1);
    // Right after k3's member stops, etcd may refuse to remove it for a moment.
    await eventually(
      "k3 purged",
      async () => (await k1.ctl(["member", "purge", "k3"])).code === 0,
      15_000,
    );
    // etcd on that data exits at once ("the member has been permanently removed"),
    // saying why only in its own log.
    await assert.rejects(k3.restart(), (error: Error) => {
      assert.match(
        error.message,
        /etcd member k3 was removed from cluster purged-data \(purged\), but its old data is in .*\/data\/etcd: remove that directory, then start this node again with --state-flag existing/,
      );
      return true;
    });
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});

Deno.test("cluster: a primary whose etcd data is gone, not purged, is told to purge it first", async () => {
  await requireEtcd();
  const plans = primaryPlans(["j1", "j2", "j3"]);
  const initialCluster = initialClusterOf(plans);
  const nodes = await startNodes(
    plans.map((p) => ({ name: p.name, args: primaryFlags(p, "lost-data", initialCluster) })),
  );
  const [j1, , j3] = nodes;
  let passed = false;
  try {
    assert.equal(await j3.stop(), 0);
    await Deno.remove(`${j3.homeDir}/data/etcd`, { recursive: true });
    // etcd itself would start, then panic on the log it no longer has.
    await assert.rejects(j3.restart(), (error: Error) => {
      assert.match(
        error.message,
        /etcd member j3 has run in cluster lost-data, but its data is not in .*: purge it through another node \(ctl member purge j3\), then start this node again with --state-flag existing/,
      );
      return true;
    });
    // The cluster is unharmed (once j3's member, if it led, has a successor:
    // a write meanwhile may wait out its request timeout, or time out after
    // it was applied, when the next try finds the object there).
    await eventually(
      "j1 accepts a create",
      async () => {
        const status = (await j1.api("POST", "/objects", mockPipeline("p", "v1", "one"))).status;
        return status === 201 || status === 409;
      },
      30_000,
    );
    passed = true;
  } finally {
    await cleanUpNodes(nodes, passed);
  }
});
