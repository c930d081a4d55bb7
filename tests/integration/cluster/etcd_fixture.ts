/**
 * Starts real etcd members for the cluster integration tests: loopback
 * only, free ports, data in a temp dir that is removed afterwards.
 *
 * @module
 */

import { type EtcdProcess, startEtcdProcess } from "../../../cluster/etcd_process.ts";
import { freePort } from "../helpers.ts";

export { freePort };

/** Fails with the package name when etcd is not installed. */
export async function requireEtcd(): Promise<void> {
  try {
    await new Deno.Command("etcd", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
  } catch {
    throw new Error("etcd not found on PATH: install the Debian package etcd-server");
  }
}

/** Ports and paths of one member, kept so it can be restarted with the same data. */
export interface MemberPlan {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logDir: string;
}

/** One or more etcd members started together, with restart and cleanup. */
export class TestEtcdCluster {
  readonly members: MemberPlan[];
  readonly token: string;
  readonly #dir: string;
  readonly #running = new Map<string, EtcdProcess>();

  private constructor(dir: string, size: number, token: string, firstPort?: number) {
    this.#dir = dir;
    this.token = token;
    const port = (i: number) => firstPort === undefined ? freePort() : firstPort + i;
    this.members = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `http://127.0.0.1:${port(2 * i)}`,
      peerUrl: `http://127.0.0.1:${port(2 * i + 1)}`,
      dataDir: `${dir}/m${i + 1}/data`,
      logDir: `${dir}/m${i + 1}/log`,
    }));
  }

  /**
   * Starts `size` members forming one new cluster, on free ports or two in a
   * row from `firstPort` for each member (client, then peer).
   */
  static async start(size = 1, firstPort?: number): Promise<TestEtcdCluster> {
    await requireEtcd();
    const dir = await Deno.makeTempDir({ prefix: "eg-etcd-test-" });
    const token = `test-${crypto.randomUUID().slice(0, 8)}`;
    const cluster = new TestEtcdCluster(dir, size, token, firstPort);
    try {
      await Promise.all(cluster.members.map((member) => cluster.startMember(member.name, "new")));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Client URLs of every member. */
  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  /** The running process of a member. */
  process(name: string): EtcdProcess {
    const running = this.#running.get(name);
    if (!running) throw new Error(`etcd member ${name} is not running`);
    return running;
  }

  /** Starts (or restarts, keeping its data) one member. */
  async startMember(name: string, stateFlag: "new" | "existing" = "existing"): Promise<void> {
    const member = this.members.find((candidate) => candidate.name === name)!;
    const process = await startEtcdProcess({
      name,
      dataDir: member.dataDir,
      logDir: member.logDir,
      listenClientUrls: [member.clientUrl],
      listenPeerUrls: [member.peerUrl],
      initialCluster: this.members.map((m) => `${m.name}=${m.peerUrl}`).join(","),
      initialClusterToken: this.token,
      stateFlag,
      readyTimeoutMs: 30_000,
    });
    this.#running.set(name, process);
  }

  /** Stops one member gracefully. */
  async stopMember(name: string): Promise<void> {
    await this.process(name).stop();
    this.#running.delete(name);
  }

  /** Kills one member with SIGKILL, as a crash would. */
  async killMember(name: string): Promise<void> {
    await this.process(name).kill();
    this.#running.delete(name);
  }

  /** Stops every member and removes all data. */
  async close(): Promise<void> {
    await Promise.all([...this.#running.values()].map((process) => process.kill()));
    this.#running.clear();
    await Deno.remove(this.#dir, { recursive: true });
  }
}
