/**
 * Helpers for the cluster integration tests: named node processes with
 * restart, JSON calls to a node's own admin API, traffic checks through a
 * port that several nodes share, and finding the etcd member a node runs.
 *
 * @module
 */

import { freePort, type NodeProcess, type RunResult, startNodeProcess } from "./helpers.ts";

/** A JSON answer of the admin API. */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** One node process of a test cluster, with its name and start flags kept for restarts. */
export class ClusterNode {
  readonly name: string;
  readonly args: readonly string[];
  #process: NodeProcess;

  private constructor(name: string, args: readonly string[], process: NodeProcess) {
    this.name = name;
    this.args = args;
    this.#process = process;
  }

  /** Starts `easegress serve --name <name> ...args` in a new home dir, the admin API on `apiPort` (a free one by default). */
  static async start(
    name: string,
    args: readonly string[],
    apiPort?: number,
  ): Promise<ClusterNode> {
    const process = await startNodeProcess({ args: ["--name", name, ...args], apiPort });
    return new ClusterNode(name, args, process);
  }

  /** "127.0.0.1:PORT" of the admin API. */
  get apiAddr(): string {
    return this.#process.apiAddr;
  }

  get homeDir(): string {
    return this.#process.homeDir;
  }

  /** Runs `easegress ctl` against this node. */
  ctl(args: string[], stdin?: string): Promise<RunResult> {
    return this.#process.ctl(args, stdin);
  }

  /** Calls `/apis/v2<path>` on this node, asking for JSON. */
  async api(method: string, path: string, body?: string): Promise<ApiAnswer> {
    const response = await fetch(`http://${this.apiAddr}/apis/v2${path}`, {
      method,
      body,
      headers: { accept: "application/json", "content-type": "application/yaml" },
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * This node's own live status of `object` (the admin API answers its own
   * member from the data plane, the others from the store), or undefined
   * when the node does not run it.
   */
  async localStatus(object: string): Promise<Record<string, unknown> | undefined> {
    const answer = await this.api("GET", `/status/objects/${object}`);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new Error(`status of ${object}: ${JSON.stringify(answer)}`);
    return (answer.body as Record<string, Record<string, unknown>>)[this.name];
  }

  /** How many requests this node's HTTPServer `server` has served. */
  async servedCount(server: string): Promise<number> {
    return Number((await this.localStatus(server))?.count ?? 0);
  }

  /** Restarts the node with the same home dir, admin port and flags. */
  async restart(): Promise<void> {
    await this.#process.stop();
    const apiPort = Number(this.apiAddr.slice(this.apiAddr.lastIndexOf(":") + 1));
    this.#process = await startNodeProcess({
      homeDir: this.homeDir,
      apiPort,
      args: ["--name", this.name, ...this.args],
    });
  }

  /** Stops the node (SIGTERM: gracefully; SIGKILL: as a crash); returns the exit code. */
  stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    return this.#process.stop(signal);
  }

  /** What the node printed so far. */
  output(): string {
    return this.#process.output();
  }
}

/** Starts several nodes at once; stops the started ones again if any fails. */
export async function startNodes(
  specs: { name: string; args: readonly string[]; apiPort?: number }[],
): Promise<ClusterNode[]> {
  const started = await Promise.allSettled(
    specs.map((s) => ClusterNode.start(s.name, s.args, s.apiPort)),
  );
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.all(started.map((r) => r.status === "fulfilled" && r.value.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<ClusterNode>).value);
}

/**
 * Sends `count` GETs to `127.0.0.1:port`, each on a new connection so the
 * kernel picks a listener afresh each time; returns the bodies (or
 * "refused: ..." when the port is closed).
 */
export async function sendOnNewConnections(port: number, count: number): Promise<string[]> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const bodies: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`, {
          client,
          headers: { connection: "close" },
        });
        bodies.push(await response.text());
      } catch (error) {
        bodies.push(`refused: ${(error as Error).message}`);
      }
    }
  } finally {
    client.close();
  }
  return bodies;
}

/**
 * Connections spread over the listeners sharing a port (SO_REUSEPORT picks
 * one by a hash of the connection's addresses). With 45 connections over
 * three nodes, the chance that one node gets none is 3·(2/3)^45 ≈ 4e-8.
 */
const SPREAD_REQUESTS = 45;

/**
 * Whether every node serves `body` on the shared `port`: all answers are
 * `body`, and each node's own served count went up during the round, so
 * each of them answered some of those requests with `body`.
 */
export async function everyNodeServes(
  nodes: ClusterNode[],
  server: string,
  port: number,
  body: string,
): Promise<boolean> {
  const before = await Promise.all(nodes.map((node) => node.servedCount(server)));
  const bodies = await sendOnNewConnections(port, SPREAD_REQUESTS);
  if (bodies.some((b) => b !== body)) return false;
  const after = await Promise.all(nodes.map((node) => node.servedCount(server)));
  return nodes.every((_, i) => after[i] > before[i]);
}

/** PIDs of the etcd processes whose data dir lies under `dir` (Linux /proc). */
export async function etcdPidsUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let args: string[];
    try {
      args = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    if (!/(^|\/)etcd$/.test(args[0])) continue;
    if (args.some((arg) => arg.startsWith(`--data-dir=${dir}/`))) pids.push(Number(entry.name));
  }
  return pids;
}

/** Kills (SIGKILL) the etcd processes whose data dir lies under `dir`; returns how many. */
export async function killEtcdUnder(dir: string): Promise<number> {
  const pids = await etcdPidsUnder(dir);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
  return pids.length;
}

/** Where a primary's etcd member listens: its name, client and peer URLs, on loopback. */
export interface PrimaryPlan {
  name: string;
  client: string;
  peer: string;
}

/**
 * A plan for a primary of each name, on loopback ports: free ones, or two
 * in a row from `firstPort` for each primary (client, then peer).
 */
export function primaryPlans(names: string[], firstPort?: number): PrimaryPlan[] {
  const port = (i: number) => firstPort === undefined ? freePort() : firstPort + i;
  return names.map((name, i) => ({
    name,
    client: `http://127.0.0.1:${port(2 * i)}`,
    peer: `http://127.0.0.1:${port(2 * i + 1)}`,
  }));
}

/** `--initial-cluster` of `plans`: `name=peer,...`. */
export function initialClusterOf(plans: PrimaryPlan[]): string {
  return plans.map((p) => `${p.name}=${p.peer}`).join(",");
}

/** The flags of a primary running `plan`'s etcd member in `clusterName`, started as `initialCluster`. */
export function primaryFlags(
  plan: PrimaryPlan,
  clusterName: string,
  initialCluster: string,
): string[] {
  return [
    "--cluster-name",
    clusterName,
    "--listen-client-urls",
    plan.client,
    "--advertise-client-urls",
    plan.client,
    "--listen-peer-urls",
    plan.peer,
    "--initial-advertise-peer-urls",
    plan.peer,
    "--initial-cluster",
    initialCluster,
  ];
}

/** A Pipeline answering every request with `body`, from a Mock filter named `filter`. */
export function mockPipeline(name: string, filter: string, body: string): string {
  return `name: ${name}\nkind: Pipeline\nfilters:\n  - name: ${filter}\n    kind: Mock\n` +
    `    rules:\n      - code: 200\n        body: ${body}\n`;
}

/** An HTTPServer on 127.0.0.1:`port` sending everything to `pipeline`. */
export function loopbackServer(name: string, port: number, pipeline: string): string {
  return `kind: HTTPServer\nname: ${name}\naddress: 127.0.0.1\nport: ${port}\n` +
    `rules:\n  - paths:\n    - backend: ${pipeline}\n`;
}

/**
 * Ends a test's nodes: stops them with `signal`, prints their logs unless
 * the test `passed`, then ends their etcd members and removes their home dirs.
 */
export async function cleanUpNodes(
  nodes: ClusterNode[],
  passed: boolean,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  await Promise.all(nodes.map((node) => node.stop(signal)));
  if (!passed) await printNodeLogs(nodes);
  for (const node of nodes) {
    await killEtcdUnder(node.homeDir);
    await Deno.remove(node.homeDir, { recursive: true }).catch(() => {});
  }
}

/** Prints the end of each node's `stdout.log`, to explain a failed test. */
export async function printNodeLogs(nodes: ClusterNode[], lines = 40): Promise<void> {
  for (const node of nodes) {
    const file = `${node.homeDir}/log/stdout.log`;
    const text = await Deno.readTextFile(file).catch((e) => `(cannot read: ${e.message})`);
    console.error(
      `--- ${node.name}: last lines of ${file}\n${text.split("\n").slice(-lines).join("\n")}`,
    );
  }
}
