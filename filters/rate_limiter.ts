/**
 * The RateLimiter filter: per-URL limits of `limitForPeriod` requests every
 * `limitRefreshPeriod`, callers waiting up to `timeoutDuration` for a turn,
 * else 429. Limits live in shared memory, so they hold exactly across the
 * node's worker isolates; an unchanged rule keeps its state across updates.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "./filter.ts";
import { HTTP_METHODS } from "./request_adaptor.ts";
import { SharedRateLimiter, SharedSlots } from "./shared_slots.ts";
import { sleep } from "./sleep.ts";
import { formatDuration, parseDuration, SpecReader } from "./spec.ts";
import { readStringMatcher, StringMatcher, type StringMatcherSpec } from "./string_matcher.ts";

/** A named limit. */
export interface RateLimitPolicySpec {
  name: string;
  timeoutDuration: string;
  limitRefreshPeriod: string;
  limitForPeriod: number;
}

/** Which requests a policy applies to. */
export interface RateLimitUrlSpec {
  methods?: string[];
  url: StringMatcherSpec;
  policyRef?: string;
}

/** A normalized RateLimiter spec. */
export interface RateLimiterSpec {
  policies: RateLimitPolicySpec[];
  defaultPolicyRef?: string;
  urls: RateLimitUrlSpec[];
}

const RATE_LIMITED = "rateLimited";

/** The RateLimiter filter kind. */
export const rateLimiterKind: FilterKind<RateLimiterSpec> = {
  kind: "RateLimiter",
  description: "RateLimiter limits the rate of requests per URL, exactly across workers.",
  results: [RATE_LIMITED],
  validate(raw) {
    const r = SpecReader.root(raw);
    const policies = r.array("policies", (pr) => ({
      name: pr.string("name", { required: true }) ?? "",
      timeoutDuration: pr.duration("timeoutDuration", { default: "100ms" }),
      limitRefreshPeriod: pr.duration("limitRefreshPeriod", { default: "10ms" }),
      limitForPeriod: pr.int("limitForPeriod", { default: 50, min: 1 }),
    }), { required: true, minItems: 1 }) ?? [];
    const spec: RateLimiterSpec = { policies, urls: [] };
    const defaultRef = r.string("defaultPolicyRef");
    if (defaultRef) spec.defaultPolicyRef = defaultRef;
    spec.urls = r.array("urls", (ur) => {
      const u: RateLimitUrlSpec = {
        url: ur.object("url", readStringMatcher, { required: true }) ?? {},
      };
      const methods = ur.stringArray("methods");
      // Matched as written: "get" would never match a request, so it is refused, as Easegress does.
      methods?.forEach((m, i) => {
        if (!HTTP_METHODS.includes(m)) ur.problem(`methods[${i}]`, `"${m}" is not an HTTP method`);
      });
      if (methods?.length) u.methods = methods;
      const ref = ur.string("policyRef");
      if (ref) u.policyRef = ref;
      return u;
    }, { required: true }) ?? [];
    // A reference must name one policy: Easegress binds the first of a name, silently.
    const names = new Set<string>();
    policies.forEach((p, i) => {
      if (names.has(p.name)) r.problem(`policies[${i}].name`, `duplicate policy "${p.name}"`);
      names.add(p.name);
    });
    if (defaultRef && !names.has(defaultRef)) {
      r.problem("defaultPolicyRef", `no policy named "${defaultRef}"`);
    }
    spec.urls.forEach((u, i) => {
      const ref = u.policyRef ?? defaultRef;
      if (!ref) r.problem(`urls[${i}].policyRef`, "is required when there is no defaultPolicyRef");
      else if (!names.has(ref)) r.problem(`urls[${i}].policyRef`, `no policy named "${ref}"`);
    });
    for (const [i, p] of policies.entries()) {
      if (parseDuration(p.limitRefreshPeriod)! <= 0) {
        r.problem(`policies[${i}].limitRefreshPeriod`, "must be longer than 0");
      }
    }
    r.finish();
    r.throwIfProblems();
    return spec;
  },
  create(spec, env) {
    return new RateLimiter(spec, env);
  },
};

interface UrlLimiter {
  methods: ReadonlySet<string> | undefined;
  url: StringMatcher;
  limiter: SharedRateLimiter;
}

/** A running RateLimiter. */
class RateLimiter implements FilterInstance {
  readonly #urls: UrlLimiter[];

  constructor(spec: RateLimiterSpec, env: FilterEnv) {
    const slots = env.sharedSlots ?? SharedSlots.create();
    const policies = new Map(spec.policies.map((p) => [p.name, p]));
    this.#urls = [];
    try {
      for (const u of spec.urls) {
        const p = policies.get(u.policyRef ?? spec.defaultPolicyRef!)!;
        // The cell name carries the whole rule, not its place in the list: an
        // unchanged rule keeps its state across updates, even when rules were
        // added before it, as in Easegress; a changed one starts afresh.
        const name = `ratelimit/${env.pipeline}/${env.name}/${JSON.stringify([u, p])}`;
        const period = parseDuration(p.limitRefreshPeriod)! * 1000;
        const timeout = parseDuration(p.timeoutDuration)! * 1000;
        this.#urls.push({
          methods: u.methods ? new Set(u.methods) : undefined,
          url: StringMatcher.forPaths(u.url),
          limiter: new SharedRateLimiter(slots, name, p.limitForPeriod, period, timeout),
        });
      }
    } catch (e) {
      // No table left full of cells nobody will release.
      this.close();
      throw e;
    }
  }

  handle(ctx: Context): string | Promise<string> {
    const { method, path } = ctx.request;
    for (const u of this.#urls) {
      if (u.methods && !u.methods.has(method)) continue;
      if (!u.url.match(path)) continue;
      const wait = u.limiter.acquire();
      if (wait < 0) return this.#reject(ctx);
      if (wait === 0) return "";
      return waitTurn(ctx, wait / 1000);
    }
    return "";
  }

  /** Gives up its shared cells; a successor with the same rules claimed them first, so keeps their counts. */
  close(): void {
    for (const u of this.#urls) u.limiter.close();
  }

  #reject(ctx: Context): string {
    ctx.addTag("rateLimiter: too many requests");
    // A response an earlier filter made takes the status and header, as in Easegress.
    const response = ctx.response;
    if (response === undefined) {
      ctx.response = new HttpResponse(429, { "x-eg-rate-limiter": "too-many-requests" });
    } else {
      response.status = 429;
      response.headers.set("x-eg-rate-limiter", "too-many-requests");
    }
    return RATE_LIMITED;
  }
}

/** Waits `ms` for a turn, as Easegress does: no longer once the client has gone. */
async function waitTurn(ctx: Context, ms: number): Promise<string> {
  if (await sleep(ms, ctx.signal)) {
    ctx.addTag(`rateLimiter: waiting duration: ${formatDuration(Math.round(ms * 1000) / 1000)}`);
  }
  return "";
}
