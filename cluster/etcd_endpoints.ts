/**
 * The etcd URLs a node that runs no etcd member connects to: those it was
 * given, then the client URLs of every member etcd lists. Easegress's etcd
 * client syncs these from the cluster, so a secondary given one primary's URL
 * follows the others when that primary stops; without them it would lose the
 * cluster with the one member it knew.
 *
 * @module
 */

import { Etcd3 } from "etcd3";
import { etcdEndpointURL } from "./etcd_url.ts";

/** An etcd client for a few calls at `hosts`, each bounded by `timeoutMs`; close it after. */
export function briefEtcdClient(hosts: string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: hosts.map(etcdEndpointURL),
    dialTimeout: timeoutMs,
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
  });
}

/**
 * `given`, then each member's client URLs not among them. Answers `given`
 * alone when etcd cannot list its members: opening the store reports why.
 */
export async function clusterEndpoints(given: string[], timeoutMs: number): Promise<string[]> {
  const client = briefEtcdClient(given, timeoutMs);
  try {
    const { members } = await client.cluster.memberList({ linearizable: false });
    return [...new Set([...given, ...members.flatMap((m) => m.clientURLs)])];
  } catch {
    return given;
  } finally {
    client.close();
  }
}
