/**
 * Leadership: for objects that must run on one member of a cluster at a
 * time. Won by {@linkcode EtcdStore.campaign}; a standalone node is always
 * its own leader ({@linkcode soleLeadership}).
 *
 * @module
 */

/** Being the elected member of one election, until {@linkcode Leadership.lost} aborts. */
export interface Leadership {
  /**
   * Aborts when this member stops being the leader: it resigned, its
   * session lease was lost (e.g. etcd unreachable for longer than the TTL),
   * the campaign's signal aborted, or the store closed. Stop the
   * leader-only work at once when it fires.
   */
  readonly lost: AbortSignal;
  /** Gives leadership up so another member can take over; idempotent. */
  resign(): Promise<void>;
}

/**
 * Leadership for a node that is alone (embedded store): held until
 * `signal` aborts or `resign()` is called.
 */
export function soleLeadership(signal: AbortSignal): Leadership {
  const lost = new AbortController();
  const onAbort = () => lost.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    lost: lost.signal,
    resign() {
      signal.removeEventListener("abort", onAbort);
      if (!lost.signal.aborted) lost.abort(new Error("resigned"));
      return Promise.resolve();
    },
  };
}
