/**
 * How a node joins its cluster: which store it opens (embedded file, an
 * existing etcd, or a built-in etcd member it runs itself), how fast it
 * re-reads config, and the membership loops (heartbeat, status sync) that
 * let every member see the others.
 *
 * Modes, chosen from the options:
 * - standalone (no `--etcd-endpoints`, no `--initial-cluster`): the embedded
 *   store in the data dir; nothing shared.
 * - external etcd (`--etcd-endpoints`, or a secondary without
 *   `--initial-cluster`, as Easegress's secondaries and `--use-standalone-etcd`
 *   nodes): an etcd client, keys under `/<cluster-name>`.
 * - built-in etcd (`--initial-cluster` given): a primary runs a local etcd
 *   member (data in `<data-dir>/etcd`) and connects to it; a secondary runs
 *   none and connects to the cluster (see `secondaryEndpoints`).
 *
 * @module
 */

import {
  type EtcdProcess,
  logTail,
  refuseBusyUrls,
  startEtcdProcess,
} from "../cluster/etcd_process.ts";
import { addSelfToEtcd, memberHasRun, memberRemoved, surveyEtcd } from "../cluster/etcd_join.ts";
import { openEmbeddedStore } from "../cluster/embedded_store.ts";
import { findLiveNamesake, runHeartbeat, runStatusSync } from "../cluster/members.ts";
import type { Store } from "../cluster/store.ts";
import type { Logger } from "../filters/filter.ts";
import { parseDuration } from "../filters/spec.ts";
import { waitUntil } from "../filters/sleep.ts";
import { type NodeOptions, optionsDocument, resolveDir } from "./options.ts";
import { nodeIdOf } from "./node_id.ts";
import { joinPath } from "./paths.ts";

/** Where a node keeps its config. */
export type ClusterMode = "standalone" | "external-etcd" | "built-in-etcd";

/** Time between two heartbeats (and two status syncs), as in Easegress. */
export const HEARTBEAT_MS = 5_000;
/**
 * A member whose last heartbeat is older than this (two missed beats) is
 * listed as not alive.
 */
export const MEMBER_ALIVE_MS = 2 * HEARTBEAT_MS;
/**
 * TTL of the lease a member's ephemeral keys (member document, object
 * statuses) are bound to: four heartbeats. Longer than the alive window,
 * so a dead member is first listed as not alive (and can be purged), and
 * its keys vanish by themselves within 20 s if nobody purges it.
 */
export const LEASE_TTL_SECONDS = 20;
/**
 * Full config re-read period in a cluster. Watch events are missed while
 * etcd is unreachable; this bounds how long a node stays stale after it
 * comes back. Standalone nodes cannot miss events, so they re-read rarely.
 */
export const CLUSTER_RESYNC_MS = 5_000;
const STANDALONE_RESYNC_MS = 60_000;
/** How long a stopping node waits for its etcd store to close (lease revoke, watches). */
const ETCD_STORE_CLOSE_MS = 5_000;
/** How often a node that cannot reach etcd at start tries again. */
const CONNECT_RETRY_MS = 5_000;
/**
 * How long a built-in etcd member may take to join a healthy cluster: ten
 * minutes, as Easegress waits for its embedded etcd, since a restarted
 * primary is healthy only once a quorum of the primaries runs again.
 */
const ETCD_READY_TIMEOUT_MS = 10 * 60_000;
/**
 * How long a primary with no etcd data asks the others whether its member
 * ran before: short, as in a cluster that is starting nobody answers.
 */
const MEMBER_CHECK_TIMEOUT_MS = 2_000;
/**
 * How long a secondary waits for its primaries' first keys in an empty
 * etcd (primaries write theirs right after their etcd is up).
 */
const CLUSTER_APPEAR_MS = 10_000;
const CLUSTER_APPEAR_POLL_MS = 500;
/**
 * An etcd member ended by SIGTERM or SIGINT from outside the node, as a
 * service manager stopping every process of the node at once does: if the
 * node starts stopping within this time, the exit was part of its stop.
 */
const STOP_TOGETHER_MS = 3_000;

/**
 * A secondary's `--cluster-name` is not the cluster its primaries run:
 * fatal, not tried again.
 */
export class ClusterNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterNameError";
  }
}

/** The store a node runs on, and what follows from the mode. */
export interface Cluster {
  readonly mode: ClusterMode;
  readonly store: Store;
  /** A member whose heartbeat is older than this is listed as not alive. */
  readonly aliveWindowMs: number;
  /** Period of the supervisor's full resync. */
  readonly resyncMs: number;
  /**
   * Traffic listeners must share their ports: every node of a cluster runs
   * every HTTPServer, and several nodes may run on one host.
   */
  readonly reusePort: boolean;
  /** The built-in etcd member this node runs, if any. */
  readonly etcd: EtcdProcess | undefined;
  /** In a cluster, the node's id across restarts, which its member document carries. */
  readonly nodeId: string | undefined;
  /** Closes the store, then stops the built-in etcd member; idempotent. */
  close(): Promise<void>;
}

/** Where a node keeps its files. */
export interface ClusterDirs {
  /** Resolved data dir: embedded store, built-in etcd data. */
  dataDir: string;
  /** Resolved log dir: the built-in etcd's log goes there. */
  logDir: string;
}

/** The mode `options` ask for. */
export function clusterModeOf(options: NodeOptions): ClusterMode {
  if (Object.keys(options.initialCluster).length > 0) return "built-in-etcd";
  if (options.etcdEndpoints.length > 0 || options.clusterRole === "secondary") {
    return "external-etcd";
  }
  return "standalone";
}

/**
 * Where a node that runs no etcd member reaches the cluster: `--etcd-endpoints`
 * and `--primary-listen-peer-urls` (etcd serves clients on its peer URLs too,
 * which is what Easegress's secondaries use) or its older `--cluster-join-urls`, else the peer URLs of
 * `--initial-cluster`, else Easegress's default `http://localhost:2380`.
 */
export function secondaryEndpoints(options: NodeOptions): string[] {
  const given = unique([
    ...options.etcdEndpoints,
    ...options.primaryListenPeerUrls,
    ...options.clusterJoinUrls,
  ]);
  if (given.length > 0) return given;
  const peers = Object.values(options.initialCluster);
  return peers.length > 0 ? unique(peers) : ["http://localhost:2380"];
}

/**
 * Opens the node's store for its mode, starting the built-in etcd member
 * first when this node is a primary of a built-in cluster. Throws with a
 * clear message when the options do not fit together or etcd cannot be
 * reached.
 */
export async function openCluster(
  options: NodeOptions,
  dirs: ClusterDirs,
  log: Logger,
): Promise<Cluster> {
  const mode = clusterModeOf(options);
  if (mode === "standalone") {
    const store = await openEmbeddedStore(dirs.dataDir);
    return clusterOf(mode, store, undefined, undefined, STANDALONE_RESYNC_MS);
  }
  const requestTimeoutMs = requestTimeoutOf(options);
  const nodeId = await nodeIdOf(dirs.dataDir);
  let etcd: EtcdProcess | undefined;
  let endpoints = secondaryEndpoints(options);
  if (mode === "built-in-etcd" && options.clusterRole === "primary") {
    etcd = await startBuiltInEtcd(options, dirs, log);
    // The other members too (etcd answers clients on its peer URLs), as
    // Easegress's primaries use them all: the node keeps the cluster if its
    // own member fails.
    const others = Object.entries(options.initialCluster)
      .filter(([name]) => name !== options.name).map(([, url]) => url);
    endpoints = unique([...etcd.clientUrls, ...others, ...options.etcdEndpoints]);
  }
  // Loaded only in cluster modes: the etcd client is large and a single node never needs it.
  const { openEtcdStore } = await import("../cluster/etcd_store.ts");
  const connect = async (): Promise<Store> => {
    // As Easegress's client syncs them; an etcd of your own (--etcd-endpoints)
    // is reached only where you say, its advertised URLs may not be for us.
    if (!etcd && options.etcdEndpoints.length === 0) {
      const { clusterEndpoints } = await import("../cluster/etcd_endpoints.ts");
      endpoints = await clusterEndpoints(endpoints, requestTimeoutMs);
    }
    const store = await openEtcdStore({
      endpoints,
      clusterName: options.clusterName,
      memberName: options.name,
      leaseTtlSeconds: LEASE_TTL_SECONDS,
      requestTimeoutMs,
      maxSendBytes: options.maxCallSendMsgSize,
    });
    try {
      if (!etcd) await checkClusterName(options, endpoints, requestTimeoutMs, log);
      // A primary restarted on its etcd data under a mistyped name would
      // otherwise report ready with an empty config, its objects closed.
      else await checkJoinedClusterName(options, endpoints, requestTimeoutMs);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  };
  try {
    const store = await untilConnected(connect, () => endpoints, log, etcd);
    // The node's own member must still run: a node does not report ready on a stranger's etcd.
    const failure = etcd && await etcdExitError(etcd);
    const refusal = failure ?? await nameInUseError(store, options, nodeId);
    if (refusal) {
      await store.close().catch(() => {});
      throw refusal;
    }
    log.info(`cluster ${options.clusterName}: ${mode}, etcd at ${endpoints.join(",")}`);
    return clusterOf(mode, store, etcd, nodeId, CLUSTER_RESYNC_MS, log);
  } catch (error) {
    await etcd?.stop();
    if (
      error instanceof ClusterNameError || error instanceof EtcdExitedError ||
      error instanceof MemberNameError
    ) throw error;
    throw new Error(
      `Cannot connect to etcd at ${endpoints.join(",")}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The node's own etcd member exited while the node was starting. */
class EtcdExitedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EtcdExitedError";
  }
}

/** The error to stop a starting node with when its etcd member has exited, else undefined. */
async function etcdExitError(etcd: EtcdProcess): Promise<EtcdExitedError | undefined> {
  const status = etcd.exitStatus;
  if (!status) return undefined;
  return new EtcdExitedError(
    `etcd member ${etcd.name} (pid ${etcd.pid}) exited with code ${status.code} while the ` +
      `node was starting; last lines of ${etcd.logFile}:\n${await logTail(etcd.logFile)}`,
  );
}

/** Another node of the cluster runs under this node's `--name`: fatal. */
class MemberNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MemberNameError";
  }
}

/**
 * The error to stop a starting node with when another node of its cluster
 * runs under its name, else undefined: both would write one member document
 * and one status key per object, each hiding the other.
 */
async function nameInUseError(
  store: Store,
  options: NodeOptions,
  nodeId: string,
): Promise<MemberNameError | undefined> {
  const other = await findLiveNamesake(store, options.name, nodeId, MEMBER_ALIVE_MS);
  if (!other) return undefined;
  const ageSeconds = Math.round((Date.now() - Date.parse(other.lastHeartbeatTime)) / 1000);
  return new MemberNameError(
    `another node runs as member "${options.name}" of cluster ${options.clusterName} ` +
      `(admin API ${other.apiAddr}, last heartbeat ${ageSeconds} s ago): give this node ` +
      `another --name, or stop that node first`,
  );
}

/**
 * For a secondary reaching its primaries' etcd (not an etcd of its own:
 * `--etcd-endpoints`, `--use-standalone-etcd`): is its `--cluster-name` the
 * cluster those primaries run? Keys live under `/<cluster-name>/`, and each
 * member lists itself under `/<cluster-name>/status/members/`; a built-in
 * etcd's members are named after its primaries. So:
 * - the cluster has keys there: it exists, go on;
 * - another cluster lists an etcd member as its member: that cluster is the
 *   primaries', refused naming both names ({@linkcode ClusterNameError});
 * - an empty etcd: its primaries are starting; waited for a while;
 * - else (other clusters, none of them the etcd's own): a new cluster on a
 *   shared etcd, accepted with a note.
 * On an etcd of its own a first node starts a new cluster: only a note when
 * the etcd holds other clusters, as a typo in the name looks like that.
 */
async function checkClusterName(
  options: NodeOptions,
  endpoints: string[],
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  const name = options.clusterName;
  const at = endpoints.join(",");
  const ownEtcd = options.etcdEndpoints.length > 0 || options.useStandaloneEtcd;
  if (options.clusterRole !== "secondary" && !ownEtcd) return;
  const giveUpAt = Date.now() + CLUSTER_APPEAR_MS;
  for (;;) {
    const { etcdMembers, clusters } = await surveyEtcd(endpoints, timeoutMs);
    if (clusters.has(name)) return;
    const others = [...clusters.keys()].map((other) => `"${other}"`).join(", ");
    if (ownEtcd) {
      if (clusters.size > 0) {
        log.info(`cluster "${name}" is new on etcd at ${at}, which holds clusters ${others}`);
      }
      return;
    }
    const owner = primariesCluster(etcdMembers, clusters);
    if (owner) {
      throw new ClusterNameError(
        `--cluster-name "${name}" is not the cluster of the primaries at ${at}: their etcd ` +
          `members (${owner.primaries.join(", ")}) run cluster "${owner.name}", and etcd holds ` +
          `no cluster "${name}"; start this secondary with --cluster-name ${owner.name} (or, ` +
          `for a new cluster on that etcd, --use-standalone-etcd)`,
      );
    }
    if (clusters.size > 0 || Date.now() >= giveUpAt) {
      log.info(
        `cluster "${name}" is new on etcd at ${at}` +
          (clusters.size > 0 ? `, which holds clusters ${others}` : ""),
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, CLUSTER_APPEAR_POLL_MS));
  }
}

/**
 * The cluster that lists etcd's own members (a built-in etcd's primaries,
 * named after them) among its members, with those members; undefined when
 * none does.
 */
function primariesCluster(
  etcdMembers: readonly string[],
  clusters: ReadonlyMap<string, readonly string[]>,
): { name: string; primaries: string[] } | undefined {
  for (const [name, members] of clusters) {
    const primaries = members.filter((member) => etcdMembers.includes(member));
    if (primaries.length > 0) return { name, primaries };
  }
  return undefined;
}

/**
 * For a primary joining a running cluster's etcd (`--state-flag existing`
 * with no etcd data yet), before it adds its member there, and for a
 * primary once its etcd member runs: is its `--cluster-name` the cluster the
 * primaries run? By the same signs as {@linkcode checkClusterName}; a typo
 * would otherwise add an etcd member (counted in that cluster's quorum) for
 * a new, empty cluster, or restart a primary serving no objects. Goes on
 * when the other members cannot be asked: joining reports that.
 */
async function checkJoinedClusterName(
  options: NodeOptions,
  endpoints: string[],
  timeoutMs: number,
): Promise<void> {
  const name = options.clusterName;
  let survey: Awaited<ReturnType<typeof surveyEtcd>>;
  try {
    survey = await surveyEtcd(endpoints, timeoutMs);
  } catch {
    return;
  }
  if (survey.clusters.has(name)) return;
  const owner = primariesCluster(survey.etcdMembers, survey.clusters);
  if (!owner) return;
  throw new ClusterNameError(
    `--cluster-name "${name}" is not the cluster of the primaries at ${endpoints.join(",")}: ` +
      `their etcd members (${owner.primaries.join(", ")}) run cluster "${owner.name}", and ` +
      `etcd holds no cluster "${name}"; start this primary with --cluster-name ${owner.name} ` +
      `to join it`,
  );
}

/**
 * `connect()`, tried again every {@linkcode CONNECT_RETRY_MS} while etcd
 * cannot be reached, as Easegress waits for its cluster forever: a
 * secondary started before its primaries joins once they are up. Errors in
 * the options themselves (TypeError, RangeError) are not retried.
 */
async function untilConnected(
  connect: () => Promise<Store>,
  endpoints: () => string[],
  log: Logger,
  etcd: EtcdProcess | undefined,
): Promise<Store> {
  for (;;) {
    try {
      return await connect();
    } catch (error) {
      if (
        error instanceof TypeError || error instanceof RangeError ||
        error instanceof ClusterNameError
      ) throw error;
      // Waiting is for an etcd that is not up yet, not for our own member that is gone.
      const failure = etcd && await etcdExitError(etcd);
      if (failure) throw failure;
      log.error(
        `cannot reach etcd at ${endpoints().join(",")}: ${(error as Error).message}; ` +
          `trying again in ${CONNECT_RETRY_MS / 1000} s`,
      );
      // Woken early by our own member exiting, which the next round reports.
      await waitUntil(etcd?.exited ?? new Promise(() => {}), Date.now() + CONNECT_RETRY_MS);
    }
  }
}

function clusterOf(
  mode: ClusterMode,
  store: Store,
  etcd: EtcdProcess | undefined,
  nodeId: string | undefined,
  resyncMs: number,
  log?: Logger,
): Cluster {
  let closing: Promise<void> | undefined;
  const { promise: closeCalled, resolve: callClose } = Promise.withResolvers<void>();
  etcd?.exited.then(async (status) => {
    // SIGTERM or SIGINT from outside, as to every process of a stopping service: the
    // node's own stop follows at once.
    if (!closing && (status.signal === "SIGTERM" || status.signal === "SIGINT")) {
      await waitUntil(closeCalled, Date.now() + STOP_TOGETHER_MS);
    }
    if (closing) {
      // An exit the node asked for (or stops with) is no error.
      log?.info(`etcd member ${etcd.name} stopped (exit code ${status.code})`);
      return;
    }
    // The node goes on serving its last config; say loudly why writes fail now.
    log?.error(
      `etcd member ${etcd.name} exited with code ${status.code}; see ${etcd.logFile}`,
    );
  });
  return {
    mode,
    store,
    aliveWindowMs: MEMBER_ALIVE_MS,
    resyncMs,
    reusePort: mode !== "standalone",
    etcd,
    nodeId,
    close() {
      // The store first: revoking its lease needs etcd still running. An etcd that does not
      // answer gets a few seconds, not a timeout per call: its keys end with the lease anyway.
      closing ??=
        (mode === "standalone"
          ? store.close()
          : waitUntil(store.close(), Date.now() + ETCD_STORE_CLOSE_MS)).finally(() => etcd?.stop());
      callClose();
      return closing;
    },
  };
}

function requestTimeoutOf(options: NodeOptions): number {
  const ms = parseDuration(options.clusterRequestTimeout);
  if (ms === undefined || !(ms > 0)) {
    throw new Error(
      `--cluster-request-timeout: "${options.clusterRequestTimeout}" is not a positive ` +
        `duration like 10s or 500ms`,
    );
  }
  return ms;
}

async function startBuiltInEtcd(
  options: NodeOptions,
  dirs: ClusterDirs,
  log: Logger,
): Promise<EtcdProcess> {
  if (!(options.name in options.initialCluster)) {
    throw new Error(
      `--initial-cluster has no member named "${options.name}" (this node's --name); ` +
        `a primary must be one of ${Object.keys(options.initialCluster).join(", ")}`,
    );
  }
  const etcdDataDir = joinPath(dirs.dataDir, "etcd");
  let initialCluster = Object.entries(options.initialCluster).map(([n, url]) => `${n}=${url}`)
    .join(",");
  const join = {
    name: options.name,
    peerUrls: options.initialAdvertisePeerUrls,
    endpoints: Object.entries(options.initialCluster)
      .filter(([name]) => name !== options.name).map(([, url]) => url),
    initialCluster: options.initialCluster,
    timeoutMs: requestTimeoutOf(options),
  };
  const noData = !options.forceNewCluster && !(await exists(joinPath(etcdDataDir, "member")));
  if (
    noData &&
    await memberHasRun({ ...join, timeoutMs: Math.min(join.timeoutMs, MEMBER_CHECK_TIMEOUT_MS) })
  ) {
    throw new Error(
      `etcd member ${options.name} has run in cluster ${options.clusterName}, but its data is ` +
        `not in ${etcdDataDir}: purge it through another node (ctl member purge ` +
        `${options.name}), then start this node again with --state-flag existing`,
    );
  }
  if (options.stateFlag === "existing" && noData) {
    await checkJoinedClusterName(options, join.endpoints, join.timeoutMs);
    // Before the member is added: one added that then cannot start holds back the quorum
    // of the cluster it joins (a cluster of one stops), and removing it takes that quorum.
    refuseBusyUrls(options.name, [
      ["listen-client-urls", options.listenClientUrls],
      ["listen-peer-urls", options.listenPeerUrls],
    ]);
    const joined = await addSelfToEtcd(join);
    if (joined.added) log.info(`added etcd member ${options.name} to the running cluster`);
    // etcd refuses to join with any other list, and the member just added
    // would then hold back the quorum of the cluster it could not join.
    initialCluster = joined.initialCluster;
  }
  log.info(`starting etcd member ${options.name} (data in ${etcdDataDir})`);
  const etcd = await startEtcdProcess({
    name: options.name,
    dataDir: etcdDataDir,
    logDir: dirs.logDir,
    listenClientUrls: options.listenClientUrls,
    listenPeerUrls: options.listenPeerUrls,
    advertiseClientUrls: options.advertiseClientUrls,
    initialAdvertisePeerUrls: options.initialAdvertisePeerUrls,
    initialCluster,
    initialClusterToken: options.clusterName,
    stateFlag: options.stateFlag,
    readyTimeoutMs: ETCD_READY_TIMEOUT_MS,
    onUnhealthy: (waitedMs) =>
      log.info(
        `etcd member ${options.name} not healthy after ${Math.round(waitedMs / 1000)} s: ` +
          `waiting (up to ${ETCD_READY_TIMEOUT_MS / 60_000} min) for a quorum of ` +
          `${Object.keys(options.initialCluster).join(", ")} to run`,
      ),
    onLeftover: (pid) =>
      log.warn(
        `ended etcd pid ${pid}, left running on ${etcdDataDir} by an earlier run of ` +
          `${options.name} (killed without a stop?)`,
      ),
    extraArgs: [
      ...(options.walDir ? [`--wal-dir=${resolveDir(options, options.walDir)}`] : []),
      ...(options.forceNewCluster ? ["--force-new-cluster"] : []),
    ],
  }).catch(async (error) => {
    // etcd on the data of a member since removed (purged) exits at once, its reason only
    // in its own log: say so, and how such a member comes back.
    if (
      noData || options.forceNewCluster ||
      !await memberRemoved({
        ...join,
        timeoutMs: Math.min(join.timeoutMs, MEMBER_CHECK_TIMEOUT_MS),
      })
    ) throw error;
    throw new Error(
      `etcd member ${options.name} was removed from cluster ${options.clusterName} (purged), ` +
        `but its old data is in ${etcdDataDir}: remove that directory, then start this node ` +
        `again with --state-flag existing`,
      { cause: error },
    );
  });
  log.info(`etcd member ${options.name} healthy (pid ${etcd.pid}), log in ${etcd.logFile}`);
  return etcd;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** Options for {@linkcode startMembership}. */
export interface MembershipOptions {
  /** The node's options: name, role, api address, and the document shown by `member list`. */
  options: NodeOptions;
  /** The live status of every object this node runs, by object name. */
  collect: () => Promise<ReadonlyMap<string, Record<string, unknown>>>;
  log: Logger;
}

/** The running membership loops of a node. */
export interface Membership {
  /** Stops the loops and waits for their last store write. */
  stop(): Promise<void>;
}

/**
 * Starts the heartbeat (every mode: `member list` shows the node) and, in a
 * cluster, the status sync that publishes this node's object statuses so
 * `object status get` on any member shows every member.
 */
export function startMembership(cluster: Cluster, membership: MembershipOptions): Membership {
  const { options, collect, log } = membership;
  const abort = new AbortController();
  const startTime = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const etcd = cluster.etcd;
  // Failures are expected while etcd is away; one line per round is enough.
  const warn = (what: string) => (error: unknown) =>
    log.warn(`${what}: ${error instanceof Error ? error.message : error}`);
  const loops = [
    runHeartbeat(cluster.store, {
      name: options.name,
      role: options.clusterRole,
      apiAddr: options.apiAddr,
      nodeId: cluster.nodeId,
      options: optionsDocument(options),
      extra: async () => ({
        startTime,
        ...(etcd ? { etcd: await etcdMemberState(etcd, startTime) } : {}),
      }),
      intervalMs: HEARTBEAT_MS,
      signal: abort.signal,
      onError: warn("heartbeat"),
    }),
  ];
  if (cluster.mode !== "standalone") {
    loops.push(runStatusSync(cluster.store, {
      member: options.name,
      collect,
      intervalMs: HEARTBEAT_MS,
      batchSize: options.statusUpdateMaxBatchSize,
      signal: abort.signal,
      onError: warn("status sync"),
    }));
  }
  const finished = loops.map((loop) =>
    loop.catch((error) => log.error(`membership stopped: ${(error as Error).message}`))
  );
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      abort.abort();
      stopping ??= Promise.all(finished).then(() => {});
      return stopping;
    },
  };
}

/**
 * The `etcd` field of a primary's member document, as Easegress shows it:
 * the member id and whether it leads the etcd cluster, read from etcd's
 * JSON gateway (`/v3/maintenance/status`).
 */
async function etcdMemberState(
  etcd: EtcdProcess,
  startTime: string,
): Promise<Record<string, unknown>> {
  try {
    const response = await fetch(
      `${etcd.clientUrls[0].replace(/\/+$/, "")}/v3/maintenance/status`,
      {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(1_000),
      },
    );
    const status = await response.json() as { header?: { member_id?: string }; leader?: string };
    const id = status.header?.member_id ?? "";
    const state = id && status.leader === id ? "Leader" : "Follower";
    return { id: id && BigInt(id).toString(16), startTime, state };
  } catch {
    return { id: "", startTime, state: "Unavailable" };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
