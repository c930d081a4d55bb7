/**
 * Object specs: validation of any object kind a node runs, and the
 * normalized form that is stored and served.
 *
 * @module
 */

import type { FilterRegistry } from "../filters/filter.ts";
import { keys, parseStoredJson, type Store } from "../cluster/store.ts";
import { type AutoCertManagerSpec, readAutoCertManagerSpec } from "./autocert/spec.ts";
import { type EaseMonitorMetricsSpec, readEaseMonitorMetricsSpec } from "./easemonitor/spec.ts";
import { type MQTTProxySpec, readMQTTProxySpec } from "./mqtt/spec.ts";
import {
  isRegistryKind,
  readRegistrySpec,
  REGISTRY_KINDS,
  type RegistrySpec,
} from "./registry/spec.ts";
import { isPlainObject, SpecError, SpecReader } from "../filters/spec.ts";
import { type GlobalFilterSpec, readGlobalFilterSpec } from "./globalfilter/spec.ts";
import { type HTTPServerSpec, readHTTPServerSpec } from "./httpserver/spec.ts";
import { type PipelineSpec, readPipelineSpec } from "./pipeline/spec.ts";
import { readWebSocketServerSpec, type WebSocketServerSpec } from "./websocket/spec.ts";

/** Any normalized object spec. */
export type ObjectSpec =
  | HTTPServerSpec
  | PipelineSpec
  | WebSocketServerSpec
  | GlobalFilterSpec
  | AutoCertManagerSpec
  | RegistrySpec
  | MQTTProxySpec
  | EaseMonitorMetricsSpec;

/** The object kinds a node runs, with the v1 spellings they accept. */
export const OBJECT_KINDS = [
  "AutoCertManager",
  "EaseMonitorMetrics",
  "GlobalFilter",
  "HTTPServer",
  "MQTTProxy",
  "Pipeline",
  "WebSocketServer",
  ...REGISTRY_KINDS,
] as const;
const KIND_ALIASES: Record<string, string> = { HTTPPipeline: "Pipeline" };

/** Easegress object kinds this node does not run, with why. */
const UNSUPPORTED_KINDS: Record<string, string> = {
  FaaSController: "it needs Knative",
  IngressController: "it needs Kubernetes",
  MeshController: "EaseMesh is not supported",
};

const NAME = /^[A-Za-z0-9\-_.~]{1,253}$/;

/** The canonical kind name of `kind` (v1 spellings mapped), or undefined. */
export function canonicalKind(kind: unknown): string | undefined {
  if (typeof kind !== "string") return undefined;
  const k = KIND_ALIASES[kind] ?? kind;
  return (OBJECT_KINDS as readonly string[]).includes(k) ? k : undefined;
}

/**
 * Validates an object document and returns its normalized spec; throws
 * {@linkcode SpecError} listing every problem with its field path.
 */
export function validateObject(raw: unknown, filters: FilterRegistry): ObjectSpec {
  if (!isPlainObject(raw)) throw new SpecError(["object: must be a map with name and kind"]);
  const r = SpecReader.root(raw);
  const name = r.string("name", {
    required: true,
    pattern: NAME,
    patternName: "1-253 letters, digits or -_.~",
  }) ?? "";
  const kindText = r.string("kind", { required: true });
  r.ignore("version");
  const kind = canonicalKind(kindText);
  if (kindText !== undefined && !kind) {
    const why = UNSUPPORTED_KINDS[kindText];
    r.problem(
      "kind",
      why
        ? `${kindText} is an Easegress object kind this node does not run: ${why}`
        : `unknown kind "${kindText}" (known: ${OBJECT_KINDS.join(", ")})`,
    );
  }
  let spec: ObjectSpec | undefined;
  if (kind === "HTTPServer") spec = readHTTPServerSpec(r, name);
  else if (kind === "Pipeline") spec = readPipelineSpec(r, name, filters);
  else if (kind === "WebSocketServer") spec = readWebSocketServerSpec(r, name);
  else if (kind === "GlobalFilter") spec = readGlobalFilterSpec(r, name, filters);
  else if (kind === "AutoCertManager") spec = readAutoCertManagerSpec(r, name);
  else if (kind === "MQTTProxy") spec = readMQTTProxySpec(r, name);
  else if (kind === "EaseMonitorMetrics") spec = readEaseMonitorMetricsSpec(r, name);
  else if (kind !== undefined && isRegistryKind(kind)) spec = readRegistrySpec(r, name, kind);
  if (spec) r.finish();
  r.throwIfProblems();
  return spec!;
}

/** The stored spec of object `name` (as the admin API wrote it), or undefined. */
export async function readStoredObject(
  store: Store,
  name: string,
): Promise<ObjectSpec | undefined> {
  const kv = await store.get(keys.object(name));
  return kv ? parseStoredJson(kv) as ObjectSpec : undefined;
}
