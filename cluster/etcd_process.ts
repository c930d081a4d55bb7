/**
 * Runs a local `etcd` member as a child process: the "built-in" etcd of a
 * primary node. Easegress embeds etcd in its own binary; we run Debian's
 * `etcd` (package `etcd-server`) beside the node instead, with the same
 * settings, and stop it with the node.
 *
 * @module
 */

import { waitUntil } from "../filters/sleep.ts";
import { endLeftoverEtcd, pidFileOf } from "./etcd_leftover.ts";

/** Options for {@linkcode startEtcdProcess}. */
export interface EtcdProcessOptions {
  /** Member name, unique in the cluster (`--name`). */
  name: string;
  /** Where etcd keeps its data (`--data-dir`); created if missing. */
  dataDir: string;
  /** Directory of the log file `etcd_server.log`; created if missing. */
  logDir: string;
  /** URLs etcd serves clients on, e.g. `["http://127.0.0.1:2379"]`. */
  listenClientUrls: string[];
  /** URLs etcd serves its peers on, e.g. `["http://127.0.0.1:2380"]`. */
  listenPeerUrls: string[];
  /** Client URLs announced to the cluster. @default listenClientUrls */
  advertiseClientUrls?: string[];
  /** Peer URLs announced to the cluster. @default listenPeerUrls */
  initialAdvertisePeerUrls?: string[];
  /** Every initial member: `name=peerUrl,...`. @default `<name>=<first advertised peer URL>` */
  initialCluster?: string;
  /** Token that keeps clusters apart: the Easegress cluster name. */
  initialClusterToken: string;
  /** `new` to bootstrap a cluster, `existing` to join one. @default "new" */
  stateFlag?: "new" | "existing";
  /** How long to wait for the member to report healthy. @default 60000 */
  readyTimeoutMs?: number;
  /**
   * Called every 10 s while the member is not healthy yet, with how long it
   * has waited, so a long wait (for the other members of its cluster to
   * start) is not a silent one. @default none
   */
  onUnhealthy?: (waitedMs: number) => void;
  /** Path or name of the etcd binary. @default "etcd" */
  binary?: string;
  /** Extra command-line flags, appended last (they win over ours). @default [] */
  extraArgs?: string[];
  /**
   * Called with the pid of an etcd of this member (same data dir) that an
   * earlier run left running (its node was killed with SIGKILL), once it is
   * ended. @default none
   */
  onLeftover?: (pid: number) => void;
}

/** A running etcd member. */
export interface EtcdProcess {
  readonly name: string;
  readonly pid: number;
  /** The member's client URLs (advertised), for store endpoints. */
  readonly clientUrls: readonly string[];
  /** The file etcd logs to. */
  readonly logFile: string;
  /** Settles when the process exits, for any reason. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The exit status once etcd has exited, else undefined. */
  readonly exitStatus: Deno.CommandStatus | undefined;
  /** Stops etcd (SIGKILL, so that its clients see no GOAWAY; see the class); idempotent. */
  stop(): Promise<void>;
  /** Kills etcd at once (SIGKILL), as a crash would; idempotent. */
  kill(): Promise<void>;
}

/** The log file's name inside `logDir`, as Easegress names it. */
export const ETCD_LOG_FILE_NAME = "etcd_server.log";
/** How long the ports of a leftover etcd just ended may take to be free. */
const LEFTOVER_PORTS_MS = 5_000;
const HEALTH_POLL_MS = 200;
/** How often `onUnhealthy` is called while etcd is not healthy. */
const UNHEALTHY_NOTE_MS = 10_000;
const LOG_TAIL_LINES = 30;

/**
 * Starts an etcd member and waits until it answers `/health` with a leader
 * elected. Members of a new multi-member cluster only become healthy once a
 * quorum runs, so start them concurrently. Throws with the tail of etcd's
 * log if it exits or stays unhealthy past `readyTimeoutMs`.
 *
 * The member's pid (and this process's) is kept in `<dataDir>.pid` while it
 * runs. An etcd an earlier run left on the same data dir (its node killed
 * with SIGKILL: etcd lives on, adopted by init) is ended first; one whose
 * node still runs is refused. A listen URL another process holds is refused
 * before etcd starts, so a stranger answering `/health` there cannot pass
 * for this member.
 */
export async function startEtcdProcess(options: EtcdProcessOptions): Promise<EtcdProcess> {
  const {
    name,
    dataDir,
    logDir,
    listenClientUrls,
    listenPeerUrls,
    advertiseClientUrls = listenClientUrls,
    initialAdvertisePeerUrls = listenPeerUrls,
    initialClusterToken,
    stateFlag = "new",
    readyTimeoutMs = 60_000,
    binary = "etcd",
    extraArgs = [],
  } = options;
  if (!name) throw new TypeError("Cannot start etcd: name is empty");
  if (listenClientUrls.length === 0) throw new TypeError("Cannot start etcd: no client URLs");
  if (listenPeerUrls.length === 0) throw new TypeError("Cannot start etcd: no peer URLs");
  if (stateFlag !== "new" && stateFlag !== "existing") {
    throw new TypeError(`Cannot start etcd: stateFlag "${stateFlag}" is not new or existing`);
  }
  const initialCluster = options.initialCluster ?? `${name}=${initialAdvertisePeerUrls[0]}`;

  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });
  const logFile = `${logDir.replace(/\/+$/, "")}/${ETCD_LOG_FILE_NAME}`;
  const pidFile = pidFileOf(dataDir);
  const leftovers = await endLeftoverEtcd(name, dataDir, pidFile);
  for (const pid of leftovers) options.onLeftover?.(pid);
  // A leftover just ended may hold its ports a moment longer.
  const portsFreeBy = Date.now() + (leftovers.length > 0 ? LEFTOVER_PORTS_MS : 0);
  for (;;) {
    try {
      refuseBusyUrls(name, [
        ["listen-client-urls", listenClientUrls],
        ["listen-peer-urls", listenPeerUrls],
      ]);
      break;
    } catch (error) {
      if (Date.now() >= portsFreeBy) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // Settings as Easegress gives its embedded etcd (cluster.md §1).
  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${listenClientUrls.join(",")}`,
    `--advertise-client-urls=${advertiseClientUrls.join(",")}`,
    `--listen-peer-urls=${listenPeerUrls.join(",")}`,
    `--initial-advertise-peer-urls=${initialAdvertisePeerUrls.join(",")}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-cluster-token=${initialClusterToken}`,
    `--initial-cluster-state=${stateFlag}`,
    "--auto-compaction-mode=revision",
    "--auto-compaction-retention=10",
    `--quota-backend-bytes=${8 * 1024 ** 3}`,
    "--max-txn-ops=10240",
    `--max-request-bytes=${10 * 1024 ** 2}`,
    "--snapshot-count=5000",
    "--enable-v2=false",
    "--logger=zap",
    "--log-outputs=stderr",
    ...extraArgs,
  ];

  const log = await Deno.open(logFile, { write: true, create: true, append: true });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    log.close();
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot start etcd: binary "${binary}" not found (install the Debian package etcd-server)`,
        { cause: error },
      );
    }
    throw error;
  }
  const logCopied = copyToLog(child.stderr, log);
  const ownPidLine = `${child.pid} ${Deno.pid}\n`;
  const pidWritten = Deno.writeTextFile(pidFile, ownPidLine).catch((error) =>
    console.error(`Cannot write ${pidFile}: ${error instanceof Error ? error.message : error}`)
  );
  const exited = child.status.then(async (status) => {
    await logCopied;
    await pidWritten;
    // Only our own line: a later run may have written its own meanwhile.
    if ((await Deno.readTextFile(pidFile).catch(() => "")) === ownPidLine) {
      await Deno.remove(pidFile).catch(() => {});
    }
    return status;
  });
  const member = new RunningEtcd(name, child, advertiseClientUrls, logFile, exited);
  try {
    await waitUntilHealthy(member, listenClientUrls[0], readyTimeoutMs, options.onUnhealthy);
  } catch (error) {
    await member.kill();
    throw error;
  }
  return member;
}

class RunningEtcd implements EtcdProcess {
  readonly name: string;
  readonly pid: number;
  readonly clientUrls: readonly string[];
  readonly logFile: string;
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  #exitStatus: Deno.CommandStatus | undefined;

  constructor(
    name: string,
    child: Deno.ChildProcess,
    clientUrls: readonly string[],
    logFile: string,
    exited: Promise<Deno.CommandStatus>,
  ) {
    this.name = name;
    this.pid = child.pid;
    this.#child = child;
    this.clientUrls = clientUrls;
    this.logFile = logFile;
    this.exited = exited;
    exited.then((status) => this.#exitStatus = status);
  }

  /** The exit status once etcd has exited, else undefined. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exitStatus;
  }

  stop(): Promise<void> {
    // SIGKILL, not SIGTERM: a gracefully stopping etcd sends its gRPC clients
    // GOAWAY, and the runtime's HTTP/2 client (under the etcd client of every
    // other node connected to this member) can abort the process on one
    // (nghttp2's find_stream_on_goaway_func assertion, or a segfault): with
    // SIGTERM, stopping one of three primaries took down another in half the
    // runs. etcd loses nothing by it (each commit is fsynced to its WAL); the
    // others elect a leader without a handover, in about a second.
    return this.kill();
  }

  async kill(): Promise<void> {
    this.#signal("SIGKILL");
    await this.exited;
  }

  /** Sends a signal unless etcd already exited; true when sent. */
  #signal(signal: Deno.Signal): boolean {
    if (this.#exitStatus) return false;
    try {
      this.#child.kill(signal);
      return true;
    } catch {
      return false; // exited between the check and the kill
    }
  }
}

async function waitUntilHealthy(
  member: RunningEtcd,
  clientUrl: string,
  timeoutMs: number,
  onUnhealthy?: (waitedMs: number) => void,
): Promise<void> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  const healthUrl = `${clientUrl.replace(/\/+$/, "")}/health`;
  let nextNote = start + UNHEALTHY_NOTE_MS;
  for (;;) {
    if (member.exitStatus) {
      throw new Error(
        `etcd member "${member.name}" exited with code ${member.exitStatus.code} while starting; ` +
          `last lines of ${member.logFile}:\n${await logTail(member.logFile)}`,
      );
    }
    // Healthy, and still ours: a member failing to bind could meet a stranger's answer.
    if (await isHealthy(healthUrl) && !member.exitStatus) return;
    if (Date.now() > deadline) {
      throw new Error(
        `etcd member "${member.name}" not healthy at ${healthUrl} after ${timeoutMs} ms; ` +
          `last lines of ${member.logFile}:\n${await logTail(member.logFile)}`,
      );
    }
    if (Date.now() >= nextNote) {
      nextNote += UNHEALTHY_NOTE_MS;
      onUnhealthy?.(Date.now() - start);
    }
    // Wake early when etcd exits so the error comes at once.
    await waitUntil(member.exited, Date.now() + HEALTH_POLL_MS);
  }
}

/** True when etcd at `healthUrl` answers `{"health":"true"}`. */
export async function isHealthy(healthUrl: string): Promise<boolean> {
  try {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    return response.ok && (JSON.parse(body) as { health?: unknown }).health === "true";
  } catch {
    return false;
  }
}

/**
 * Appends etcd's output to its log file as it comes. Not `pipeTo`: between
 * two Deno resources it holds the data back until the stream ends (checked on
 * Deno 2.9.6), which would leave the log empty while etcd runs.
 */
async function copyToLog(output: ReadableStream<Uint8Array>, log: Deno.FsFile): Promise<void> {
  let writable = true;
  try {
    for await (const chunk of output) {
      // Keep draining even when the file fails, or a full pipe would stall etcd.
      if (!writable) continue;
      try {
        let written = 0;
        while (written < chunk.length) written += await log.write(chunk.subarray(written));
      } catch (error) {
        writable = false;
        console.error(`Cannot write etcd log: ${error instanceof Error ? error.message : error}`);
      }
    }
  } catch {
    // The pipe broke: etcd is gone, nothing more to copy.
  } finally {
    log.close();
  }
}

/** The last lines of an etcd log file, for error messages. */
export async function logTail(logFile: string): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(logFile)).trimEnd().split("\n");
    return lines.slice(-LOG_TAIL_LINES).join("\n");
  } catch (error) {
    return `(cannot read log: ${error instanceof Error ? error.message : error})`;
  }
}

/**
 * Refuses a listen URL whose port another process holds (say an etcd not
 * ours), naming it: etcd would fail to bind and exit, while the other
 * process answered for it.
 */
export function refuseBusyUrls(name: string, lists: [string, string[]][]): void {
  for (const [flag, urls] of lists) {
    for (const text of urls) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        continue; // etcd tells
      }
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
      try {
        Deno.listen({ hostname, port }).close();
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) continue; // etcd tells
        throw new Error(
          `Cannot start etcd member "${name}": ${text} (${flag}) is in use by another process`,
        );
      }
    }
  }
}
