/**
 * A primary joining a running cluster (`--state-flag existing`) with no etcd
 * data yet: etcd starts such a member only once the cluster lists it, so it
 * is added through the other members first, as Easegress v1 primaries added
 * themselves. This is how a purged primary comes back with a clean data dir.
 *
 * And what a node joining an etcd finds there ({@linkcode surveyEtcd}): which
 * clusters keep keys in it (`/<cluster-name>/...`), their members, and etcd's
 * own members, so a secondary can tell whether its cluster is the one its
 * primaries run.
 *
 * @module
 */

import type { IMember } from "etcd3";
import { briefEtcdClient } from "./etcd_endpoints.ts";

const JOIN_RETRY_FOR_MS = 30_000;
const JOIN_RETRY_PAUSE_MS = 1_000;

/** Options for {@linkcode addSelfToEtcd}. */
export interface JoinOptions {
  /** This member's name. */
  name: string;
  /** This member's peer URLs (`--initial-advertise-peer-urls`). */
  peerUrls: string[];
  /** The other members' URLs; etcd answers clients on its peer URLs too. */
  endpoints: string[];
  /** `--initial-cluster`: names the members etcd lists without one (added, not started). */
  initialCluster?: Record<string, string>;
  timeoutMs: number;
}

/** What {@linkcode addSelfToEtcd} did and found. */
export interface JoinResult {
  /** This member was added now; false when etcd listed it already. */
  added: boolean;
  /**
   * etcd's membership with this member in it, `name=peerURL,...`: a member
   * joining a running cluster must start with exactly these members as its
   * `--initial-cluster`, which the configured one need not be (a cluster
   * still short of others, or made one-member by `--force-new-cluster`).
   */
  initialCluster: string;
}

/**
 * Adds this member to etcd's membership unless it is listed already (by
 * name, or by peer URL for one added but not yet started), and answers the
 * membership it joins; throws naming the endpoints when they cannot be reached.
 */
export async function addSelfToEtcd(options: JoinOptions): Promise<JoinResult> {
  const { name, peerUrls, endpoints, initialCluster = {}, timeoutMs } = options;
  const isSelf = (m: IMember) => isThisMember(m, options);
  const membership = (members: IMember[]) =>
    members.flatMap((m) =>
      m.peerURLs.map((url) => {
        const known = Object.entries(initialCluster).find(([, peer]) => peer === url)?.[0];
        return `${isSelf(m) ? name : m.name || known || ""}=${url}`;
      })
    ).join(",");
  const client = briefEtcdClient(endpoints, timeoutMs);
  // etcd refuses a new member ("unhealthy cluster") for a few seconds after
  // its membership changed, as after the purge that precedes a comeback.
  const giveUpAt = Date.now() + Math.max(timeoutMs, JOIN_RETRY_FOR_MS);
  try {
    for (;;) {
      try {
        const { members } = await client.cluster.memberList({ linearizable: true });
        if (members.some(isSelf)) return { added: false, initialCluster: membership(members) };
        const added = await client.cluster.memberAdd({ peerURLs: peerUrls });
        return { added: true, initialCluster: membership(added.members) };
      } catch (e) {
        if (Date.now() + JOIN_RETRY_PAUSE_MS >= giveUpAt) {
          throw new Error(
            `cannot add etcd member ${name} to the running cluster through ` +
              `${endpoints.join(",")}: ${(e as Error).message}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_PAUSE_MS));
      }
    }
  } finally {
    client.close();
  }
}

/**
 * Whether etcd, asked through the other members, lists this member as one
 * that has run (it published its client URLs). A node whose etcd data dir
 * is empty has then lost that member's data, with which etcd would panic
 * ("tocommit ... is out of range") rather than join. False when no other
 * member answers within `timeoutMs`, as while a new cluster starts.
 */
export async function memberHasRun(options: JoinOptions): Promise<boolean> {
  const members = await membersListed(options, false);
  return members?.some((m) => isThisMember(m, options) && m.clientURLs.length > 0) ?? false;
}

/**
 * Whether etcd, asked through the other members, lists this member no more
 * (neither its name nor its peer URLs): it was removed, as `member purge`
 * does, and its old data cannot rejoin (etcd started on it exits at once,
 * saying so only in its own log). False when no other member answers within
 * `timeoutMs`.
 */
export async function memberRemoved(options: JoinOptions): Promise<boolean> {
  const members = await membersListed(options, true);
  return members !== undefined && !members.some((m) => isThisMember(m, options));
}

/** Whether etcd's member `m` is the one `options` describe: by name, or by a peer URL. */
function isThisMember(m: IMember, options: JoinOptions): boolean {
  return m.name === options.name || m.peerURLs.some((url) => options.peerUrls.includes(url));
}

/**
 * etcd's members, asked through the other members (`linearizable`: through
 * the leader); undefined when there are none to ask or none answers within
 * the timeout.
 */
async function membersListed(
  options: JoinOptions,
  linearizable: boolean,
): Promise<IMember[] | undefined> {
  if (options.endpoints.length === 0) return undefined;
  const client = briefEtcdClient(options.endpoints, options.timeoutMs);
  try {
    return (await client.cluster.memberList({ linearizable })).members;
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

/** Most clusters {@linkcode surveyEtcd} lists. */
const SURVEY_MAX_CLUSTERS = 100;
/** Where a cluster lists its members, after `/<cluster-name>` (cluster/store.ts `keys`). */
const MEMBER_PREFIX = "/status/members/";
/** Where a cluster keeps its objects, after `/<cluster-name>` (cluster/store.ts `keys`). */
const CONFIG_PREFIX = "/config/";

/** What {@linkcode surveyEtcd} finds in an etcd. */
export interface EtcdSurvey {
  /** Names of etcd's own members: for a built-in etcd, its primaries' node names. */
  etcdMembers: string[];
  /**
   * Every cluster in it (`/<name>/...` with members or objects), with its
   * listed members' names.
   */
  clusters: Map<string, string[]>;
}

/**
 * Lists etcd's members and the clusters keeping keys in it: a few range
 * calls per cluster (its first key, its member keys, whether it has
 * objects), skipping past each cluster's keys rather than reading them.
 * Other keys (a service registry's `/services/...`, kept in the same etcd)
 * are no cluster.
 */
export async function surveyEtcd(endpoints: string[], timeoutMs: number): Promise<EtcdSurvey> {
  const client = briefEtcdClient(endpoints, timeoutMs);
  try {
    const { members } = await client.cluster.memberList({ linearizable: false });
    const clusters = new Map<string, string[]>();
    // Keys of clusters start with "/"; "0" is the byte after "/".
    let from = "/";
    while (clusters.size < SURVEY_MAX_CLUSTERS) {
      const [first] = await client.getAll().inRange({ start: from, end: "0" }).limit(1).keys();
      if (first === undefined) break;
      const name = first.slice(1).split("/")[0];
      const prefix = `/${name}${MEMBER_PREFIX}`;
      if (name) {
        const memberKeys = await client.getAll().prefix(prefix).keys();
        const isCluster = memberKeys.length > 0 ||
          (await client.getAll().prefix(`/${name}${CONFIG_PREFIX}`).limit(1).keys()).length > 0;
        if (isCluster) clusters.set(name, memberKeys.map((key) => key.slice(prefix.length)));
      }
      // Past every key of this cluster: "/<name>0" follows "/<name>/...".
      from = `/${name}0`;
    }
    return { etcdMembers: members.map((m) => m.name).filter(Boolean), clusters };
  } finally {
    client.close();
  }
}
