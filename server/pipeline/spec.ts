/**
 * Pipeline spec validation: filters checked by their kinds, flow checked for
 * known filters, forward-only jumps and results the kinds declare.
 *
 * @module
 */

import { type FilterRegistry, validateFilterSpec } from "../../filters/filter.ts";
import { isPlainObject, SpecError, type SpecReader } from "../../filters/spec.ts";
import {
  checkPolicyReferences,
  POLICY_KINDS,
  type PolicyKind,
  readPolicyFields,
} from "../../filters/proxy/resilience.ts";

/** One step of a flow. */
export interface FlowNode {
  /** A filter name, or "END". */
  filter: string;
  /** The identity used by jumps; defaults to the filter name. */
  alias?: string;
  /** The namespace the filter works in. @default {"DEFAULT"} */
  namespace?: string;
  /** result -> alias (later in the flow) or "END". */
  jumpIf?: Record<string, string>;
}

/** A filter's normalized spec: name, kind and the kind's own fields. */
export interface FilterSpec {
  name: string;
  kind: string;
  [field: string]: unknown;
}

/** A resilience policy (Retry or CircuitBreaker). */
export interface ResilienceSpec {
  name: string;
  kind: string;
  [field: string]: unknown;
}

/** A normalized Pipeline spec. */
export interface PipelineSpec {
  name: string;
  kind: "Pipeline";
  flow: FlowNode[];
  filters: FilterSpec[];
  resilience?: ResilienceSpec[];
  /** Free data, given to the filters of each request as `.data.PIPELINE`. */
  data?: Record<string, unknown>;
}

/** The flow's end marker. */
export const END = "END";

const NAME = /^[A-Za-z0-9\-_.~]{1,253}$/;

/** Easegress filter kinds this node does not run, with why. */
const UNSUPPORTED_FILTERS: Record<string, string> = {
  MeshAdaptor: "EaseMesh is not supported",
};

/** Easegress v1 filter kinds whose work v2 moved elsewhere, with where. */
const V1_FILTERS: Record<string, string> = {
  CircuitBreaker:
    "a CircuitBreaker in the pipeline's `resilience` list, named in a Proxy pool's `circuitBreakerPolicy`",
  Retryer: "a Retry in the pipeline's `resilience` list, named in a Proxy pool's `retryPolicy`",
  TimeLimiter: "a Proxy pool's `timeout`",
};

/**
 * Reads a Pipeline (or v1 HTTPPipeline) spec at reader `r` (whose `name` and
 * `kind` are already read by the caller).
 */
export function readPipelineSpec(
  r: SpecReader,
  name: string,
  registry: FilterRegistry,
): PipelineSpec {
  const filters = r.array("filters", (fr) => readFilter(fr, registry), {
    required: true,
  }) ?? [];
  const kinds = new Map<string, string>();
  filters.forEach((f, i) => {
    if (!f.name) return;
    if (f.name === END) r.problem(`filters[${i}].name`, `"${END}" is reserved`);
    else if (kinds.has(f.name)) r.problem(`filters[${i}].name`, `duplicate filter "${f.name}"`);
    kinds.set(f.name, f.kind);
  });

  let flow = r.array("flow", (nr) => readFlowNode(nr)) ?? [];
  if (!flow.length) flow = filters.map((f) => ({ filter: f.name }));
  checkFlow(r, flow, kinds, registry);

  const resilience = r.array("resilience", readPolicy);
  checkPolicies(r, filters, resilience ?? []);
  readProtocol(r);
  const data = r.any("data");
  if (data !== undefined && !isPlainObject(data)) r.problem("data", "must be a map");
  const spec: PipelineSpec = { name, kind: "Pipeline", flow, filters };
  if (resilience?.length) spec.resilience = resilience;
  if (isPlainObject(data) && Object.keys(data).length) spec.data = data;
  return spec;
}

/** The protocols a pipeline's `protocol` may name. */
const PROTOCOLS = ["HTTP", "MQTT"];

/**
 * Checks a `protocol`, as Easegress v1.5's pipelines had and its MQTT
 * cookbook still writes (`protocol: MQTT`), then drops it as Easegress v2
 * does: the filters tell what a pipeline serves.
 */
function readProtocol(r: SpecReader): void {
  const protocol = r.string("protocol");
  if (protocol !== undefined && !PROTOCOLS.includes(protocol.toUpperCase())) {
    r.problem("protocol", `must be one of ${PROTOCOLS.join(", ")}, got "${protocol}"`);
  }
}

function readPolicy(rr: SpecReader): ResilienceSpec {
  const name = rr.string("name", { required: true }) ?? "";
  const kind = rr.string("kind", { required: true, oneOf: POLICY_KINDS }) ?? "";
  if (!POLICY_KINDS.includes(kind as PolicyKind)) {
    // The kind is reported; its fields cannot be judged.
    for (const key of Object.keys(rr.raw)) rr.ignore(key);
    return { ...rr.raw, name, kind };
  }
  return { name, kind, ...readPolicyFields(rr, kind as PolicyKind) };
}

/** Policy names are unique, and Proxy pools name declared policies of the right kind. */
function checkPolicies(r: SpecReader, filters: FilterSpec[], policies: ResilienceSpec[]): void {
  const kinds = new Map<string, string>();
  policies.forEach((p, i) => {
    if (!p.name) return;
    if (kinds.has(p.name)) r.problem(`resilience[${i}].name`, `duplicate policy "${p.name}"`);
    else kinds.set(p.name, p.kind);
  });
  filters.forEach((f, i) => {
    if (f.kind !== "Proxy") return;
    checkPolicyReferences(f, kinds, (path, message) => r.problem(`filters[${i}].${path}`, message));
  });
}

function readFilter(fr: SpecReader, registry: FilterRegistry): FilterSpec {
  const name = fr.string("name", {
    required: true,
    pattern: NAME,
    patternName: "1-253 letters, digits or -_.~",
  }) ?? "";
  const kind = fr.string("kind", { required: true }) ?? "";
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fr.raw)) {
    fr.ignore(k);
    if (k !== "name" && k !== "kind") rest[k] = v;
  }
  if (!kind) return { name, kind };
  const filterKind = registry.get(kind);
  if (!filterKind) {
    const why = UNSUPPORTED_FILTERS[kind];
    const moved = V1_FILTERS[kind];
    fr.problem(
      "kind",
      why
        ? `${kind} is an Easegress filter this node does not run: ${why}`
        : moved
        ? `${kind} is an Easegress v1 filter; since v2 it is ${moved}`
        : `unknown filter kind "${kind}" (known: ${registry.names().join(", ")})`,
    );
    return { name, kind };
  }
  try {
    const normalized = validateFilterSpec(filterKind, rest, fr.path);
    // The filter's own name and kind stand whatever its kind's validate() returns.
    return { ...(normalized as Record<string, unknown>), name, kind };
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    fr.addProblems(e.problems);
    // Its fields as written, for the checks that follow (a pool's policies):
    // the spec is refused, with every problem at once rather than these later.
    return { ...rest, name, kind };
  }
}

function readFlowNode(nr: SpecReader): FlowNode {
  const node: FlowNode = { filter: nr.string("filter", { required: true }) ?? "" };
  const alias = nr.string("alias");
  if (alias) node.alias = alias;
  const namespace = nr.string("namespace");
  if (namespace && namespace !== "DEFAULT") node.namespace = namespace;
  const jumpIf = nr.stringMap("jumpIf");
  if (jumpIf && Object.keys(jumpIf).length) node.jumpIf = jumpIf;
  return node;
}

function checkFlow(
  r: SpecReader,
  flow: FlowNode[],
  kinds: Map<string, string>,
  registry: FilterRegistry,
): void {
  // A filter may run more than once (one RequestBuilder per namespace, say); a
  // jump goes to the first step after it with the target's alias or name.
  const ids = flow.map((node) => node.alias ?? node.filter);
  flow.forEach((node, i) => {
    if (node.filter === END) return;
    const kindName = kinds.get(node.filter);
    if (kindName === undefined) {
      r.problem(`flow[${i}].filter`, `no filter named "${node.filter}" in filters`);
      return;
    }
    const kind = registry.get(kindName);
    if (!kind) return; // the unknown kind is reported at filters[]
    const results = kind.results;
    for (const [result, target] of Object.entries(node.jumpIf ?? {})) {
      // "" is every kind's success: Easegress maps it too, to jump on success.
      if (result !== "" && !results.includes(result)) {
        r.problem(
          `flow[${i}].jumpIf.${result}`,
          `"${result}" is not a result of ${kindName} (results: ${results.join(", ") || "none"})`,
        );
      }
      if (target === END) continue;
      if (ids.indexOf(target, i + 1) >= 0) continue;
      if (!ids.includes(target)) {
        r.problem(`flow[${i}].jumpIf.${result}`, `no flow step "${target}"`);
      } else {
        r.problem(`flow[${i}].jumpIf.${result}`, `"${target}" must come later in the flow`);
      }
    }
  });
}
