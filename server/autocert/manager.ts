/**
 * The AutoCertManager at work: on the member leading the cluster (a
 * standalone node always leads), it keeps a valid certificate in the store
 * for every listed domain, obtained from the ACME directory with HTTP-01
 * challenges, and renews each `renewBefore` its expiry. Data planes serve
 * what is stored (see the supervisor); this runs in the control plane only.
 *
 * @module
 */

import type { Leadership } from "../../cluster/leadership.ts";
import type { Store } from "../../cluster/store.ts";
import type { Logger } from "../../filters/filter.ts";
import { parseDuration } from "../../filters/spec.ts";
import { AcmeClient, type ChallengePublisher } from "./acme_client.ts";
import { importAccountKey, newAccountKey } from "./account_key.ts";
import { type AutoCertManagerSpec, runningAutoCertManager } from "./spec.ts";
import { autoCertKeys, type StoredCertificate } from "./state.ts";
import { errorText } from "../error_text.ts";
import { sleep } from "../../filters/sleep.ts";

/** What the manager needs from its node. */
export interface AutoCertEnv {
  store: Store;
  log: Logger;
  /** Waits for leadership of the cluster's certificate work (at once when standalone). */
  lead(signal: AbortSignal): Promise<Leadership>;
  /**
   * Resolves once this node's data planes serve what the store holds now
   * (a challenge answer just written).
   */
  syncDataPlanes(): Promise<void>;
  /** Extra wait after publishing an answer, for other members to see it. @default {0} */
  propagationMs?: number;
}

/** One domain's certificate as the status shows it. */
interface DomainStatus {
  name: string;
  state: "valid" | "obtaining" | "failed" | "waiting";
  /** When the certificate served expires (Easegress's name). */
  expireTime?: string;
  error?: string;
  lastAttempt?: string;
}

const CHECK_MS = 3_600_000;
const FIRST_RETRY_MS = 30_000;

/** The running AutoCertManager of a node (at most one object of the kind runs). */
export class AutoCertController {
  readonly #env: AutoCertEnv;
  #spec: AutoCertManagerSpec | undefined;
  #others: string[] = [];
  #run: AbortController | undefined;
  #done: Promise<void> = Promise.resolve();
  #domains = new Map<string, DomainStatus>();
  #leading = false;

  constructor(env: AutoCertEnv) {
    this.#env = env;
  }

  /** Takes the AutoCertManager objects now stored; the first by name runs. */
  update(specs: readonly AutoCertManagerSpec[]): void {
    const next = runningAutoCertManager(specs);
    this.#others = specs.filter((s) => s !== next).map((s) => s.name);
    if (JSON.stringify(next) === JSON.stringify(this.#spec)) return;
    this.#stop();
    this.#spec = next;
    this.#domains = new Map(
      (next?.domains ?? []).map((d) => [d.name, { name: d.name, state: "waiting" }]),
    );
    if (!next) return;
    const run = this.#run = new AbortController();
    const previous = this.#done;
    this.#done = previous.then(() => this.#lead(next, run.signal));
  }

  /** The status of the AutoCertManager called `name`, or undefined. */
  status(name: string): Record<string, unknown> | undefined {
    if (this.#others.includes(name)) {
      const message = `not running: AutoCertManager ${this.#spec?.name} is the one that runs`;
      return { name, health: message, state: "failed", error: message };
    }
    if (name !== this.#spec?.name) return undefined;
    const now = Date.now();
    const domains = [...this.#domains.values()].map((d) => domainAsOf(d, now));
    const failed = domains.filter((d) => d.state === "failed");
    return {
      name,
      health: failed.map((d) => `${d.name}: ${d.error}`).join("; "),
      state: this.#leading ? "leading" : "standby",
      domains,
    };
  }

  /** Stops the work; an order in flight is abandoned at its next step. */
  async close(): Promise<void> {
    this.#stop();
    await this.#done;
  }

  #stop(): void {
    this.#run?.abort();
    this.#run = undefined;
  }

  async #lead(spec: AutoCertManagerSpec, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let leadership: Leadership;
      try {
        leadership = await this.#env.lead(signal);
      } catch (e) {
        if (signal.aborted) return;
        this.#env.log.warn(`autocert: cannot campaign: ${(e as Error).message}`);
        await sleep(5_000, signal);
        continue;
      }
      const stop = () => leadership.resign();
      signal.addEventListener("abort", stop, { once: true });
      this.#leading = true;
      try {
        await this.#keepCertificates(spec, AbortSignal.any([signal, leadership.lost]));
      } finally {
        this.#leading = false;
        signal.removeEventListener("abort", stop);
      }
    }
  }

  /** Obtains what is missing or due, then sleeps until the next is due (or a retry). */
  async #keepCertificates(spec: AutoCertManagerSpec, signal: AbortSignal): Promise<void> {
    const renewBeforeMs = parseDuration(spec.renewBefore)!;
    let retryMs = FIRST_RETRY_MS;
    let client: AcmeClient | undefined;
    while (!signal.aborted) {
      let nextCheck = Date.now() + CHECK_MS;
      let failed = false;
      for (const domain of spec.domains) {
        if (signal.aborted) return;
        const status = this.#domains.get(domain.name)!;
        const stored = await this.#stored(domain.name);
        const due = stored && sameDirectory(stored, spec.directoryURL)
          ? renewalDue(stored, renewBeforeMs)
          : 0;
        if (stored && due > Date.now()) {
          Object.assign(status, {
            state: "valid",
            expireTime: stored.notAfter,
            error: undefined,
          });
          nextCheck = Math.min(nextCheck, due);
          continue;
        }
        status.state = "obtaining";
        // The certificate served meanwhile, if any (expired, or from another directory).
        status.expireTime = stored?.notAfter;
        status.lastAttempt = new Date().toISOString();
        try {
          client ??= await this.#client(spec);
          const issued = await client.obtain([domain.name], this.#publisher(signal));
          const notAfter = await expiryOf(issued.cert);
          const record: StoredCertificate = {
            ...issued,
            notAfter,
            obtained: new Date().toISOString(),
            directoryURL: spec.directoryURL,
          };
          await this.#env.store.put(autoCertKeys.cert(domain.name), JSON.stringify(record));
          Object.assign(status, { state: "valid", expireTime: notAfter, error: undefined });
          this.#env.log.info(
            `autocert: certificate for ${domain.name} obtained, valid until ${notAfter}`,
          );
          nextCheck = Math.min(nextCheck, renewalDue(record, renewBeforeMs));
        } catch (e) {
          failed = true;
          // A certificate still valid keeps being served while renewal is retried.
          const error = errorText(e);
          Object.assign(status, { state: stored ? "valid" : "failed", error });
          this.#env.log.error(`autocert: ${domain.name}: ${error}`);
        }
      }
      if (failed) {
        nextCheck = Date.now() + retryMs;
        retryMs = Math.min(retryMs * 2, CHECK_MS);
      } else retryMs = FIRST_RETRY_MS;
      await sleep(Math.max(1_000, nextCheck - Date.now()), signal);
    }
  }

  async #stored(domain: string): Promise<StoredCertificate | undefined> {
    try {
      const kv = await this.#env.store.get(autoCertKeys.cert(domain));
      return kv ? JSON.parse(kv.value) as StoredCertificate : undefined;
    } catch {
      return undefined;
    }
  }

  /** The ACME client of the spec's account, its key kept in the store. */
  async #client(spec: AutoCertManagerSpec): Promise<AcmeClient> {
    const key = autoCertKeys.account(spec.name);
    const stored = await this.#env.store.get(key);
    let jwk: JsonWebKey | undefined;
    if (stored) {
      const account = JSON.parse(stored.value) as { directoryURL: string; jwk: JsonWebKey };
      if (account.directoryURL === spec.directoryURL) jwk = account.jwk;
    }
    let accountKey: CryptoKeyPair;
    if (jwk) accountKey = await importAccountKey(jwk);
    else {
      const made = await newAccountKey();
      accountKey = made.keys;
      const value = JSON.stringify({ directoryURL: spec.directoryURL, jwk: made.jwk });
      await this.#env.store.put(key, value);
    }
    return new AcmeClient({ directoryURL: spec.directoryURL, accountKey, email: spec.email });
  }

  #publisher(signal: AbortSignal): ChallengePublisher {
    const env = this.#env;
    return {
      async publish(token, keyAuthorization) {
        if (signal.aborted) throw new Error("stopped");
        await env.store.put(autoCertKeys.challenge(token), keyAuthorization);
        await env.syncDataPlanes();
        if (env.propagationMs) await new Promise((r) => setTimeout(r, env.propagationMs));
      },
      async withdraw(token) {
        await env.store.delete(autoCertKeys.challenge(token));
      },
    };
  }
}

/**
 * `domain` as its status reads at `now`: a certificate kept while renewal
 * fails is `valid` until it expires, then `failed`, so the health says the
 * domain is served a certificate clients refuse.
 */
function domainAsOf(domain: DomainStatus, now: number): DomainStatus {
  if (domain.state !== "valid" || !domain.expireTime) return domain;
  if (Date.parse(domain.expireTime) > now) return domain;
  const expired = `the certificate expired at ${domain.expireTime}`;
  const error = domain.error ? `${expired}; renewing it failed: ${domain.error}` : expired;
  return { ...domain, state: "failed", error };
}

/**
 * When a certificate is renewed: `renewBefore` its expiry, but no sooner
 * than two thirds into its life, so a CA that issues certificates shorter
 * than `renewBefore` is not asked for a new one on every check.
 */
export function renewalDue(cert: StoredCertificate, renewBeforeMs: number): number {
  const expires = Date.parse(cert.notAfter);
  const lifetime = expires - (Date.parse(cert.obtained) || expires);
  return expires - Math.min(renewBeforeMs, lifetime / 3);
}

/**
 * Whether `cert` came from the ACME directory at `directoryURL`: one from
 * another (Let's Encrypt's staging directory before its production one, say)
 * is replaced at once, not when it is due, as its CA may be one no client
 * trusts. A record that does not say where it came from is taken as from it.
 */
export function sameDirectory(cert: StoredCertificate, directoryURL: string): boolean {
  return cert.directoryURL === undefined || cert.directoryURL === directoryURL;
}

/** The expiry of a PEM chain's first certificate, ISO 8601. */
async function expiryOf(chain: string): Promise<string> {
  // Loaded here: node:crypto costs an idle node memory.
  const { X509Certificate } = await import("node:crypto");
  return new Date(new X509Certificate(chain).validTo).toISOString();
}
