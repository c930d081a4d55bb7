/**
 * The data plane: HTTPServers, Pipelines, GlobalFilters and WebSocketServers
 * built from object specs. It is
 * given the whole desired set each time and reconciles: create what is new,
 * update what changed (pipelines inherit same-named filters, servers keep
 * their listeners), close what is gone. It never talks to the store.
 *
 * @module
 */

import type { FilterRegistry } from "../filters/filter.ts";
import type { SharedSlots } from "../filters/shared_slots.ts";
import type { SharedRegions } from "../filters/shared_regions.ts";
import { keepingWindows } from "../filters/http_stats.ts";
import { GlobalFilter } from "./globalfilter/global_filter.ts";
import type { GlobalFilterSpec } from "./globalfilter/spec.ts";
import { failedServerStatus, HTTPServer } from "./httpserver/server.ts";
import type { HTTPServerSpec } from "./httpserver/spec.ts";
import type { Http1ServerKind } from "./httpserver/listener.ts";
import { isolateHeapTrim } from "./idle_heap_trim.ts";
import type { BufferedLineWriter } from "./buffered_line_writer.ts";
import type { LogSink } from "./log.ts";
import type { ObjectSpec } from "./objects.ts";
import { PortClaims } from "./port_claims.ts";
import { type LoggerFactory, Pipeline, type SharedByFilters } from "./pipeline/pipeline.ts";
import { type RegistryServices, ServiceDirectory } from "../filters/service_directory.ts";
import type { PipelineSpec } from "./pipeline/spec.ts";
import { WebSocketServer } from "./websocket/server.ts";
import type { MQTTProxy } from "./mqtt/proxy.ts";
import type { MQTTProxySpec } from "./mqtt/spec.ts";
import { type MqttAdminRequest, runMqttAdmin } from "./mqtt/admin_ops.ts";
import { type AutoCertState, emptyAutoCertState } from "./autocert/state.ts";
import { type AutoCertManagerSpec, runningAutoCertManager } from "./autocert/spec.ts";
import type { StoreData } from "./store_data.ts";
import { CustomDataView } from "../filters/custom_data_view.ts";
import { WasmHub } from "../filters/wasm_shared_data.ts";
import type { ControlServices } from "./control_calls.ts";
import type { WebSocketServerSpec } from "./websocket/spec.ts";

/** What a data plane needs from its node. */
export interface DataPlaneOptions {
  filters: FilterRegistry;
  logs: LogSink;
  accessLog?: BufferedLineWriter;
  reusePort?: boolean;
  /** Serve HTTP/3 where specs ask for it. @default {true} */
  quic?: boolean;
  /** Node-wide shared counters (rate limits). */
  sharedSlots?: SharedSlots;
  /** Node-wide shared state of circuit breakers. */
  sharedRegions?: SharedRegions;
  /** Log scope of this plane. @default {"dataplane"} */
  scope?: string;
  /** Data planes sharing the node's ports (workers). */
  planes?: number;
  /** What serves plain HTTP/1.1. @default {"builtin"} */
  http1Server?: Http1ServerKind;
  /** Run MQTTProxy objects (one plane of a node does: MQTT sessions are not shared). @default {true} */
  mqtt?: boolean;
  /**
   * The control plane's services: WasmHost shared data and MQTT sessions go
   * to the store through them (without them, they stay in this plane).
   */
  control?: ControlServices;
}

/** A failure to build one object; the others still run. */
export interface ApplyError {
  name: string;
  message: string;
}

/** The running traffic objects of a node (or of one worker). */
export class DataPlane {
  readonly #options: DataPlaneOptions;
  readonly #servers = new Map<string, HTTPServer>();
  readonly #pipelines = new Map<string, Pipeline>();
  readonly #webSockets = new Map<string, WebSocketServer>();
  readonly #globalFilters = new Map<string, GlobalFilter>();
  readonly #mqttProxies = new Map<string, MQTTProxy>();
  readonly #specs = new Map<string, string>();
  /** Why objects that are not running failed, by name. */
  readonly #errors = new Map<string, { kind: string; message: string }>();
  /** Which listening object holds each port. */
  readonly #ports = new PortClaims();
  readonly #log;
  readonly #loggers: LoggerFactory;
  /** The AutoCertManager's certificates and challenge answers, as last given. */
  #autoCertState: AutoCertState = emptyAutoCertState();
  /** Challenge answers by token, shared by every server of this plane. */
  readonly #acmeChallenges = new Map<string, string>();
  /** The service registries' instances, for Proxy pools with `serviceName`. */
  readonly #services = new ServiceDirectory();
  /** The custom data items, for filters that read them. */
  readonly #customData = new CustomDataView();
  /** The WasmHost filters' shared data and code reloads. */
  readonly #wasm: WasmHub;
  readonly #shared: SharedByFilters;
  /** Closes of deleted servers still draining their requests; the plane's close waits for them. */
  readonly #draining = new Set<Promise<void>>();
  /** Stops counting this plane's requests as traffic for the heap trim; set once a server runs. */
  #unwatchHeap: (() => void) | undefined;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.#log = options.logs.logger(options.scope ?? "dataplane");
    this.#loggers = (scope) => options.logs.logger(scope);
    const control = options.control;
    this.#wasm = new WasmHub(control && ((batch) => control.storeWasmData(batch)));
    this.#shared = {
      sharedSlots: options.sharedSlots,
      sharedRegions: options.sharedRegions,
      services: this.#services,
      customData: this.#customData,
      wasm: this.#wasm,
    };
  }

  /** Sets the instances `registry` lists now (undefined: it is gone); pools follow at once. */
  updateServices(registry: string, services: RegistryServices | undefined): void {
    this.#services.update(registry, services);
  }

  /**
   * The store's WasmHost shared data changed: `entries` are
   * `[<pipeline>/<filter>/<key>, value or null]`, all of it when `full`.
   */
  updateWasmData(entries: [string, string | null][], full: boolean): void {
    this.#wasm.storeChanged(entries, full);
  }

  /** Has every WasmHost filter load its code again. */
  reloadWasmCode(): void {
    this.#wasm.reload();
  }

  /**
   * Reconciles with `desired`, serving the AutoCertManager's certificates
   * and challenge answers and the custom data in `data`; returns objects
   * that failed to build.
   */
  async apply(desired: ObjectSpec[], data?: StoreData): Promise<ApplyError[]> {
    const autoCert = data?.autoCert;
    if (data) this.#customData.replace(data.customData);
    if (autoCert) {
      this.#autoCertState = autoCert;
      this.#acmeChallenges.clear();
      for (const [token, answer] of Object.entries(autoCert.challenges)) {
        this.#acmeChallenges.set(token, answer);
      }
    }
    const managed = managedCertificates(this.#autoCertState, runningAutoCertManager(desired));
    desired = desired.map((spec) =>
      spec.kind === "HTTPServer" && spec.autoCert ? withManagedCerts(spec, managed) : spec
    );
    // An object refused its port does not run: one already running on it is closed.
    const refused = this.#ports.settle(desired);
    const wanted = new Map(desired.filter((s) => !refused.has(s.name)).map((s) => [s.name, s]));
    // Servers go first when deleting and last when creating, so no request
    // meets a server whose pipeline or global filter is not built yet.
    await this.#closeGone(this.#servers, "HTTPServer", "server", wanted);
    await this.#closeGone(this.#webSockets, "WebSocketServer", "WebSocket server", wanted);
    await this.#closeGone(this.#mqttProxies, "MQTTProxy", "MQTTProxy", wanted);
    await this.#closeGone(this.#globalFilters, "GlobalFilter", "global filter", wanted);
    await this.#closeGone(this.#pipelines, "Pipeline", "pipeline", wanted);
    const failures: ApplyError[] = [];
    for (const spec of desired) {
      const reason = refused.get(spec.name);
      if (reason !== undefined) failures.push(this.#failed(spec, new Error(reason)));
    }
    const build = async <S extends ObjectSpec>(
      kind: S["kind"],
      apply: (spec: S) => void | Promise<void>,
    ) => {
      for (const spec of desired) {
        if (spec.kind !== kind || refused.has(spec.name) || !this.#changed(spec)) continue;
        try {
          await apply(spec as S);
          this.#remember(spec);
        } catch (e) {
          failures.push(this.#failed(spec, e));
        }
      }
    };
    await build<PipelineSpec>("Pipeline", (spec) => this.#applyPipeline(spec));
    await build<GlobalFilterSpec>("GlobalFilter", (spec) => this.#applyGlobalFilter(spec));
    await build<HTTPServerSpec>("HTTPServer", (spec) => this.#applyServer(spec));
    await build<WebSocketServerSpec>("WebSocketServer", (spec) => this.#applyWebSocketServer(spec));
    if (this.#options.mqtt !== false) {
      await build<MQTTProxySpec>("MQTTProxy", (spec) => this.#applyMQTTProxy(spec));
    } else {
      // The plane that runs the MQTTProxies reports their state; an error this one noted
      // (its port refused) would otherwise outlive the fix, as nothing here builds them.
      for (const spec of desired) {
        if (spec.kind === "MQTTProxy" && !refused.has(spec.name)) this.#errors.delete(spec.name);
      }
    }
    return failures;
  }

  /**
   * Closes the objects of `running` that `wanted` no longer has as `kind`.
   * One that can let its port go first drains in the background: a request
   * in flight (a long poll, a slow upstream) would otherwise hold every
   * later config change of this plane for up to the drain's 30 s.
   */
  async #closeGone(
    running: Map<string, { close(): Promise<void>; releasePort?(): Promise<void> }>,
    kind: ObjectSpec["kind"],
    what: string,
    wanted: Map<string, ObjectSpec>,
  ): Promise<void> {
    for (const [name, object] of running) {
      if (wanted.get(name)?.kind === kind) continue;
      running.delete(name);
      this.#forget(name);
      this.#log.info(`closing ${what} ${name}`);
      if (object.releasePort === undefined) {
        await object.close();
        continue;
      }
      await object.releasePort();
      const drained = object.close().catch((e) =>
        this.#log.error(`closing ${what} ${name}: ${(e as Error).message}`)
      );
      this.#draining.add(drained);
      drained.finally(() => this.#draining.delete(drained));
    }
  }

  #changed(spec: ObjectSpec): boolean {
    return this.#specs.get(spec.name) !== JSON.stringify(spec);
  }

  #remember(spec: ObjectSpec): void {
    this.#specs.set(spec.name, JSON.stringify(spec));
    this.#errors.delete(spec.name);
  }

  #forget(name: string): void {
    this.#specs.delete(name);
    this.#errors.delete(name);
  }

  #failed(spec: ObjectSpec, e: unknown): ApplyError {
    const message = (e as Error).message;
    this.#log.error(`${spec.kind} ${spec.name}: ${message}`);
    this.#errors.set(spec.name, { kind: spec.kind, message });
    return { name: spec.name, message };
  }

  #applyPipeline(spec: PipelineSpec): Promise<void> {
    return this.#rebuild(
      this.#pipelines,
      spec.name,
      "pipeline",
      (previous) =>
        new Pipeline(
          spec,
          this.#options.filters,
          this.#loggers,
          previous,
          this.#shared,
        ),
    );
  }

  #applyGlobalFilter(spec: GlobalFilterSpec): Promise<void> {
    return this.#rebuild(
      this.#globalFilters,
      spec.name,
      "global filter",
      (previous) =>
        new GlobalFilter(
          spec,
          this.#options.filters,
          this.#loggers,
          previous,
          this.#shared,
        ),
    );
  }

  /**
   * Builds the next generation of the object called `name` from the one
   * running, swaps it in, then closes the previous one (but for what the
   * next took over, such as inherited filters).
   */
  async #rebuild<T extends { close(successor?: T): Promise<void> }>(
    running: Map<string, T>,
    name: string,
    what: string,
    build: (previous: T | undefined) => T,
  ): Promise<void> {
    const previous = running.get(name);
    const next = build(previous);
    running.set(name, next);
    this.#log.info(`${previous ? "updated" : "created"} ${what} ${name}`);
    await previous?.close(next);
  }

  /** Updates the listening object called `spec.name` in place, or creates it with `create`. */
  #updateOrCreate<S extends { name: string; port: number }, T extends { update(spec: S): void }>(
    running: Map<string, T>,
    spec: S,
    what: string,
    create: () => T,
  ): void {
    const existing = running.get(spec.name);
    if (existing) {
      existing.update(spec);
      this.#log.info(`updated ${what} ${spec.name}`);
      return;
    }
    running.set(spec.name, create());
    this.#log.info(`created ${what} ${spec.name} on port ${spec.port}`);
  }

  #applyServer(spec: HTTPServerSpec): void {
    const pipelines = this.#pipelines;
    const globalFilters = this.#globalFilters;
    this.#updateOrCreate(this.#servers, spec, "server", () =>
      new HTTPServer(spec, {
        pipeline: (name) => pipelines.get(name),
        globalFilter: (name) => globalFilters.get(name),
        log: this.#options.logs.logger(`server/${spec.name}`),
        accessLog: this.#options.accessLog,
        reusePort: this.#options.reusePort,
        quic: this.#options.quic,
        planes: this.#options.planes,
        sharedRegions: this.#options.sharedRegions,
        http1Server: this.#options.http1Server,
        acmeChallenges: this.#acmeChallenges,
      }));
    this.#unwatchHeap ??= isolateHeapTrim.watch(() => this.#requestCount());
  }

  #applyWebSocketServer(spec: WebSocketServerSpec): void {
    this.#updateOrCreate(
      this.#webSockets,
      spec,
      "WebSocket server",
      () =>
        new WebSocketServer(spec, {
          log: this.#options.logs.logger(`websocket/${spec.name}`),
          reusePort: this.#options.reusePort,
        }),
    );
  }

  async #applyMQTTProxy(spec: MQTTProxySpec): Promise<void> {
    // Loaded with the first MQTTProxy: its packet codec and the node modules under it cost an
    // idle node with two workers about 10 MB of RSS (122 against 112 MB).
    const { MQTTProxy } = await import("./mqtt/proxy.ts");
    const pipelines = this.#pipelines;
    this.#updateOrCreate(this.#mqttProxies, spec, "MQTTProxy", () =>
      new MQTTProxy(spec, {
        pipeline: (name) => pipelines.get(name),
        log: this.#options.logs.logger(`mqtt/${spec.name}`),
        sessions: this.#options.control?.mqttSessions,
        reusePort: this.#options.reusePort,
      }));
  }

  /**
   * Carries out an admin request on the MQTTProxy called `name`; undefined
   * when this plane runs no such proxy.
   */
  mqttAdmin(name: string, request: MqttAdminRequest): unknown {
    const proxy = this.#mqttProxies.get(name);
    return proxy ? runMqttAdmin(proxy, request) : undefined;
  }

  #requestCount(): number {
    let count = 0;
    for (const server of this.#servers.values()) count += server.requestCount;
    return count;
  }

  /**
   * The status document of one object, or undefined when it is not running.
   * One whose latest spec could not be built runs its previous spec, and its
   * health says so. With `keepWindows`, its statistics windows go on (see
   * keepingWindows).
   */
  status(name: string, keepWindows = false): Record<string, unknown> | undefined {
    return keepWindows ? keepingWindows(() => this.#status(name)) : this.#status(name);
  }

  #status(name: string): Record<string, unknown> | undefined {
    const running = this.#runningStatus(name);
    const failure = this.#errors.get(name);
    if (running !== undefined) {
      // Without it, an update refused here (a breaker with no room in the
      // shared memory, say) looked applied: the admin API took it and the
      // previous generation's status showed nothing wrong.
      if (failure !== undefined) {
        const notApplied = `latest spec not applied, the previous one runs: ${failure.message}`;
        running.health = running.health ? `${running.health}; ${notApplied}` : notApplied;
      }
      return running;
    }
    if (failure === undefined) return undefined;
    const error = failure.message;
    if (failure.kind === "HTTPServer") return failedServerStatus(name, error);
    return { health: error, state: "failed", error };
  }

  #runningStatus(name: string): Record<string, unknown> | undefined {
    return this.#servers.get(name)?.status() ?? this.#pipelines.get(name)?.status() ??
      this.#webSockets.get(name)?.status() ?? this.#globalFilters.get(name)?.status() ??
      this.#mqttProxies.get(name)?.status();
  }

  /** Closes every server (draining in-flight requests), then every pipeline. */
  async close(): Promise<void> {
    this.#unwatchHeap?.();
    this.#unwatchHeap = undefined;
    // Listeners first, then what they route to, as in apply.
    const kinds: Map<string, { close(): Promise<void> }>[] = [
      this.#servers,
      this.#webSockets,
      this.#mqttProxies,
      this.#globalFilters,
      this.#pipelines,
    ];
    for (const running of kinds) {
      const closing = [...running.values()].map((object) => object.close());
      if (running === this.#servers) closing.push(...this.#draining);
      await Promise.all(closing);
      running.clear();
    }
    this.#specs.clear();
    this.#wasm.close();
  }
}

/**
 * The stored certificates of the domains `manager` lists, as spec maps
 * keyed `autocert:<domain>`. Those of domains it no longer lists (or of
 * every domain, with no AutoCertManager) stay in the store but are not
 * served, as Easegress serves only its manager's domains: a stale one,
 * perhaps from another CA, would otherwise win over the server's own
 * certificate for that name.
 */
function managedCertificates(
  state: AutoCertState,
  manager: AutoCertManagerSpec | undefined,
): { certs: Record<string, string>; keys: Record<string, string> } {
  const certs: Record<string, string> = {};
  const keys: Record<string, string> = {};
  for (const { name } of manager?.domains ?? []) {
    if (!Object.hasOwn(state.certs, name)) continue;
    const pair = state.certs[name];
    certs[`autocert:${name}`] = pair.cert;
    keys[`autocert:${name}`] = pair.key;
  }
  return { certs, keys };
}

/**
 * `spec` serving the managed certificates too, ahead of its own (their
 * names are exact): a new or renewed certificate changes the spec, which
 * restarts its listener.
 */
function withManagedCerts(
  spec: HTTPServerSpec,
  managed: { certs: Record<string, string>; keys: Record<string, string> },
): HTTPServerSpec {
  return {
    ...spec,
    certs: { ...managed.certs, ...spec.certs },
    keys: { ...managed.keys, ...spec.keys },
  };
}
