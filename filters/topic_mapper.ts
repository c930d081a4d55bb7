/**
 * The TopicMapper filter, as Easegress's: on an MQTTProxy's Publish, the
 * topic's levels (split at "/", a leading empty level dropped) choose a
 * policy (the level at `matchIndex` against `route`'s expressions), the
 * policy chooses a target topic (the level at its `topicIndex` against its
 * routes' expressions) and names headers after levels; the topic and the
 * headers go into the context's data under `setKV`'s keys, for a later
 * filter. No match: `MQTTTopicMapFailed`.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { MqttContext } from "./mqtt_context.ts";
import { SpecReader } from "./spec.ts";
import { compileGoRegexp } from "./go_regexp.ts";

/** A policy chosen by name when its expression matches. */
export interface TopicRouteSpec {
  name: string;
  matchExpr: string;
}

/** How a policy maps a topic. */
export interface TopicPolicySpec {
  name: string;
  topicIndex: number;
  route: { topic: string; exprs: string[] }[];
  /** Level index -> header name. */
  headers: Record<string, string>;
}

/** The TopicMapper spec, normalized. */
export interface TopicMapperSpec {
  matchIndex: number;
  route: TopicRouteSpec[];
  policies: TopicPolicySpec[];
  setKV: { topic: string; headers: string };
}

/** The topic matched no policy or no route. */
export const RESULT_MAP_FAILED = "MQTTTopicMapFailed";

function validate(raw: Record<string, unknown>): TopicMapperSpec {
  const r = SpecReader.root(raw);
  const spec: TopicMapperSpec = {
    matchIndex: r.int("matchIndex", { default: 0, min: 0 }),
    route: r.array("route", (rr) => ({
      name: rr.string("name", { required: true }) ?? "",
      matchExpr: rr.regexp("matchExpr", { required: true }) ?? "",
    }), { required: true, minItems: 1 }) ?? [],
    policies: r.array("policies", (pr) => ({
      name: pr.string("name", { required: true }) ?? "",
      topicIndex: pr.int("topicIndex", { default: 0, min: 0 }),
      route: pr.array("route", (tr) => ({
        topic: tr.string("topic", { required: true }) ?? "",
        exprs: tr.stringArray("exprs", { required: true }) ?? [],
      }), { required: true, minItems: 1 }) ?? [],
      headers: pr.stringMap("headers", { default: {} }) ?? {},
    }), { required: true, minItems: 1 }) ?? [],
    // Either key may be left out, as in Easegress: that part of the result is not stored.
    setKV: r.object("setKV", (kr) => ({
      topic: kr.string("topic", { default: "" }),
      headers: kr.string("headers", { default: "" }),
    }), { required: true }) ?? { topic: "", headers: "" },
  };
  spec.policies.forEach((policy, i) => {
    policy.route.forEach((route, j) =>
      route.exprs.forEach((expr, k) => {
        try {
          compileGoRegexp(expr);
        } catch {
          r.problem(`policies[${i}].route[${j}].exprs[${k}]`, "is not a valid regular expression");
        }
      })
    );
    for (const index of Object.keys(policy.headers)) {
      if (!/^\d+$/.test(index)) {
        r.problem(`policies[${i}].headers.${index}`, "must be a level index");
      }
    }
  });
  const names = new Set(spec.policies.map((p) => p.name));
  spec.route.forEach((route, i) => {
    if (route.name && !names.has(route.name)) {
      r.problem(`route[${i}].name`, `names no policy: "${route.name}"`);
    }
  });
  r.finish();
  r.throwIfProblems();
  return spec;
}

interface CompiledPolicy {
  topicIndex: number;
  routes: { topic: string; exprs: RegExp[] }[];
  headers: [index: number, name: string][];
}

class TopicMapper implements FilterInstance {
  readonly #matchIndex: number;
  readonly #routes: { policy: CompiledPolicy; expr: RegExp }[];
  readonly #keys: { topic: string; headers: string };

  constructor(spec: TopicMapperSpec) {
    this.#matchIndex = spec.matchIndex;
    const policies = new Map(spec.policies.map((p) => [p.name, {
      topicIndex: p.topicIndex,
      routes: p.route.map((t) => ({
        topic: t.topic,
        exprs: t.exprs.map((e) => compileGoRegexp(e)),
      })),
      headers: Object.entries(p.headers).map(([i, name]) => [Number(i), name] as [number, string]),
    }]));
    this.#routes = spec.route.map((route) => ({
      policy: policies.get(route.name)!,
      expr: compileGoRegexp(route.matchExpr),
    }));
    this.#keys = spec.setKV;
  }

  handle(ctx: Context): string {
    if (!(ctx instanceof MqttContext) || ctx.packet.type !== "Publish") return "";
    const levels = (ctx.packet.topic ?? "").split("/");
    if (levels[0] === "") levels.shift();
    const level = levels[this.#matchIndex];
    if (level === undefined) return RESULT_MAP_FAILED;
    const policy = this.#routes.find((r) => r.expr.test(level))?.policy;
    const topicLevel = policy && levels[policy.topicIndex];
    if (policy === undefined || topicLevel === undefined) return RESULT_MAP_FAILED;
    const topic = policy.routes.find((t) => t.exprs.some((e) => e.test(topicLevel)))?.topic;
    if (topic === undefined) return RESULT_MAP_FAILED;
    const headers: Record<string, string> = {};
    for (const [index, name] of policy.headers) {
      if (levels[index] !== undefined) headers[name] = levels[index];
    }
    if (this.#keys.topic) ctx.data[this.#keys.topic] = topic;
    if (this.#keys.headers) ctx.data[this.#keys.headers] = headers;
    return "";
  }
}

/** The TopicMapper filter kind. */
export const topicMapperKind: FilterKind<TopicMapperSpec> = {
  kind: "TopicMapper",
  description:
    "TopicMapper maps MQTT topics to a target topic and headers, into the context's data.",
  results: [RESULT_MAP_FAILED],
  validate,
  create(spec: TopicMapperSpec): FilterInstance {
    return new TopicMapper(spec);
  },
};
