/**
 * A primary joining a running cluster (`--state-flag existing`) with no etcd
 * data yet: etcd starts such a member only once the cluster lists it, so it
 * is added through the other members first, as Easegress v1 primaries added
 * themselves. This is how a purged primary comes back with a clean data dir.
 *
 * @module
 */

import { Etcd3 } from "etcd3";

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
  timeoutMs: number;
}

/**
 * Adds this member to etcd's membership unless it is listed already (by
 * name, or by peer URL for one added but not yet started). Returns whether
 * it added it; throws naming the endpoints when they cannot be reached.
 */
export async function addSelfToEtcd(options: JoinOptions): Promise<boolean> {
  const { name, peerUrls, endpoints, timeoutMs } = options;
  const client = new Etcd3({
    hosts: endpoints,
    dialTimeout: timeoutMs,
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
  });
  // etcd refuses a new member ("unhealthy cluster") for a few seconds after
  // its membership changed, as after the purge that precedes a comeback.
  const giveUpAt = Date.now() + Math.max(timeoutMs, JOIN_RETRY_FOR_MS);
  try {
    for (;;) {
      try {
        const { members } = await client.cluster.memberList({ linearizable: true });
        const listed = members.some((m) =>
          m.name === name || m.peerURLs.some((url) => peerUrls.includes(url))
        );
        if (listed) return false;
        await client.cluster.memberAdd({ peerURLs: peerUrls });
        return true;
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
