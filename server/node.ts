/**
 * A node: store, supervisor, data plane and admin API, started from options
 * and stopped gracefully.
 *
 * @module
 */

import { type AdminServer, readAdminTls, startAdminServer } from "./admin/admin_server.ts";
import { listMembers, purgeMember } from "../cluster/members.ts";
import { keys, type Store } from "../cluster/store.ts";
import type { FilterKind } from "../filters/filter.ts";
import { builtinFilters } from "../filters/registry.ts";
import { SharedSlots } from "../filters/shared_slots.ts";
import { SharedRegions } from "../filters/shared_regions.ts";
import { SpecError } from "../filters/spec.ts";
import { waitUntil } from "../filters/sleep.ts";
import { joinHostPort } from "../filters/ip_address.ts";
import { CONFIG_YAML_OPTIONS, loadYaml } from "../filters/yaml_module.ts";
import { type AdminContext, handleAdmin } from "./admin/api.ts";
import { HEARTBEAT_MS, openCluster, startMembership } from "./cluster_setup.ts";
import { StatusSnapshots } from "./status_snapshots.ts";
import { DataPlane } from "./dataplane.ts";
import { isolateHeapTrim } from "./idle_heap_trim.ts";
import { pageOutExecutable } from "./executable_pages.ts";
import { BufferedLineWriter } from "./buffered_line_writer.ts";
import { LogSink, openLogFile } from "./log.ts";
import { type ObjectSpec, validateObject } from "./objects.ts";
import {
  heapTrimAfterMs,
  type NodeOptions,
  resolveDir,
  splitHostPort,
  workerIsolates,
} from "./options.ts";
import { joinPath } from "./paths.ts";
import { loadPlugins } from "./plugins.ts";
import { Supervisor } from "./supervisor.ts";
import { ControlObjects } from "./control_objects.ts";
import type { StoreData } from "./store_data.ts";
import type { MqttAdminRequest } from "./mqtt/admin_ops.ts";
import type { RegistryServices } from "../filters/service_directory.ts";
import { WorkerPlane } from "./workers/worker_plane.ts";
import { RunningObjectsFile, writePidFile } from "./home_files.ts";
import { AdminApiLog } from "./admin/api_log.ts";
import { type AdminRequestHandler, withBasicAuth } from "./admin/basic_auth.ts";
import { memberAccess } from "./admin/member_access.ts";
import { type WasmDataPlanes, WasmDataSync } from "./wasm_data_sync.ts";
import type { ControlServices } from "./control_calls.ts";
import { StoredMqttSessions } from "./mqtt/session_store.ts";
import { NodeProfiler, type ProfiledIsolate, thisIsolate } from "./profiling/node_profiler.ts";

/** What runs the traffic objects: in this isolate, or in worker isolates. */
export type TrafficPlane = Pick<DataPlane, "apply" | "close"> & WasmDataPlanes & {
  updateServices(registry: string, services: RegistryServices | undefined): unknown;
  mqttAdmin(name: string, request: MqttAdminRequest): unknown;
  status(
    name: string,
    keepWindows?: boolean,
  ): Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
};

export { VERSION } from "./version.ts";

/** A running node. */
export interface Node {
  /** The admin API's bound port. */
  readonly apiPort: number;
  /** The data plane (for tests and tools in the same process). */
  readonly dataPlane: TrafficPlane;
  /** Stops accepting, drains in-flight requests (bounded), releases the store. */
  close(): Promise<void>;
}

/** Extra things to start a node with, besides its options. */
export interface StartNodeExtras {
  /** Filter kinds to register besides the built-in ones and plugins. */
  filters?: FilterKind<never>[];
  /**
   * Log an error nothing caught in this isolate and go on, rather than end
   * the process (and every worker's traffic with it). For the executable;
   * tests want their errors. @default {false}
   */
  survivesUncaught?: boolean;
}

/** Creates a dir the node needs; the error names the option that chose it. */
async function makeDir(dir: string, flag: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new Error(`${flag}: cannot create ${dir}: ${(e as Error).message}`);
  }
}

/**
 * Fails when the admin API cannot listen on `apiAddr`. Checked before the
 * store, the pid file and the objects: a node started by mistake beside a
 * running one in the same home dir would otherwise replace that node's
 * `easegress.pid` and `running_objects.yaml`, then remove the pid file.
 */
function checkAdminAddress(apiAddr: string): void {
  const { hostname, port } = splitHostPort(apiAddr, "--api-addr");
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    throw new Error(
      `cannot serve the admin API on --api-addr ${apiAddr}: ${(e as Error).message}`,
    );
  }
}

/** How long, from the start of a stop, the store's loops may finish a call in flight. */
const STORE_LOOPS_STOP_MS = 3_000;

/** Starts a node; throws with a clear message when it cannot start. */
export async function startNode(options: NodeOptions, extras: StartNodeExtras = {}): Promise<Node> {
  const dataDir = resolveDir(options, options.dataDir);
  const logDir = resolveDir(options, options.logDir);
  // Made even when the data and log dirs are elsewhere: the pid file goes there.
  await makeDir(options.homeDir, "--home-dir");
  await makeDir(dataDir, "--data-dir");
  await makeDir(logDir, "--log-dir");
  checkAdminAddress(options.apiAddr);
  // Before anything is started or written: a file that cannot be read stops the node at once.
  const adminTls = options.tls ? await readAdminTls(options) : undefined;
  const logPath = joinPath(logDir, "stdout.log");
  const logFile = await openLogFile(logDir, "stdout.log");
  const logs = new LogSink({ level: options.debug ? "debug" : "info", file: logFile });
  const log = logs.logger("node");

  const filters = builtinFilters();
  for (const kind of extras.filters ?? []) filters.register(kind);
  const plugins = await loadPlugins(options.plugins, filters);
  if (plugins.length) log.info(`plugins loaded: ${plugins.join(", ")}`);

  const workerCount = workerIsolates(options);
  // Workers write their own access logs; the main isolate only when it serves traffic.
  let accessLog: BufferedLineWriter | undefined;
  if (!options.disableAccessLog && workerCount === 0) {
    let file;
    try {
      file = await openLogFile(logDir, "filter_http_access.log");
    } catch (e) {
      logs.close();
      throw e;
    }
    accessLog = new BufferedLineWriter(file);
  }

  let cluster;
  try {
    cluster = await openCluster(options, { dataDir, logDir }, logs.logger("cluster"));
  } catch (e) {
    accessLog?.close();
    logs.close();
    throw e;
  }
  const store = cluster.store;
  if (extras.survivesUncaught) logUncaughtErrors(log);
  // The loops that read and write the store stop at once, but may be in the middle of a call:
  // with etcd unreachable each would wait out its timeout in turn (over 30 s in all). They get
  // until this deadline, set when the stop begins; the store's close then ends what is left.
  let storeLoopsDeadline = Infinity;
  const cleanups: (() => unknown)[] = [
    // Closes the store, then stops the built-in etcd member: after everything else.
    () => cluster.close(),
    () => accessLog?.close(),
    () => logs.close(),
  ];
  const homeDir = options.homeDir;
  try {
    cleanups.unshift(await writePidFile(homeDir));
    cleanups.unshift(refuseUpgradeSignal(log));
    await createInitialObjects(store, options.initialObjectConfigFiles, filters, log);
    const runningObjects = new RunningObjectsFile(homeDir, log);
    cleanups.unshift(() => runningObjects.flush());
    isolateHeapTrim.configure(heapTrimAfterMs(options));
    // One holder of shared cells per data plane: each worker, or the main isolate.
    const planes = Math.max(1, workerCount);
    const sharedSlots = SharedSlots.create(undefined, planes);
    const sharedRegions = SharedRegions.create(undefined, planes);
    const control: ControlServices = {
      // `wasmData` is made below, with the data planes it tells; none writes before objects run.
      storeWasmData: (batch) => void wasmData.write(batch),
      mqttSessions: new StoredMqttSessions(store, logs.logger("mqtt")),
    };
    const dataPlane: TrafficPlane = workerCount > 0
      ? await WorkerPlane.start({
        count: workerCount,
        plugins: options.plugins,
        logDir,
        debug: options.debug,
        accessLog: !options.disableAccessLog,
        sharedBuffer: sharedSlots.buffer as SharedArrayBuffer,
        regionsBuffer: sharedRegions.buffer as SharedArrayBuffer,
        heapTrimAfterMs: heapTrimAfterMs(options),
        // A crashed worker cannot release its claims: its replacement claims them anew.
        workerGone: (index) => {
          sharedSlots.releaseHolder(index);
          sharedRegions.releaseHolder(index);
        },
        http1Server: options.http1Server,
        log: logs.logger("workers"),
        control,
      })
      : new DataPlane({
        filters,
        logs,
        accessLog,
        reusePort: cluster.reusePort,
        sharedSlots,
        sharedRegions,
        http1Server: options.http1Server,
        control,
      });
    // The names last applied, so the status sync knows what to report.
    let running: readonly string[] = [];
    const controlObjects: ControlObjects = new ControlObjects({
      store,
      logger: (scope) => logs.logger(scope),
      clustered: cluster.mode !== "standalone",
      updateServices: (registry, services) => dataPlane.updateServices(registry, services),
      syncDataPlanes: () => supervisor.sync(),
      statusSnapshot: () => statusSnapshots.take(),
      memberName: options.name,
      clusterName: options.clusterName,
    });
    const supervisor = new Supervisor({
      store,
      sink: {
        apply(desired: ObjectSpec[], data: StoreData) {
          running = desired.map((spec) => spec.name);
          runningObjects.update(desired);
          controlObjects.update(desired);
          return dataPlane.apply(desired, data);
        },
      },
      filters,
      log: logs.logger("supervisor"),
      resyncMs: cluster.resyncMs,
    });
    const closeDataPlane = () => dataPlane.close();
    cleanups.unshift(closeDataPlane);
    // Before anything runs, so startup is in the profiles too; stopped before the data planes
    // close, as the workers must still be there to hand in their profiles.
    const profiler = await startProfiler(options, dataPlane, [dataDir, logDir]);
    cleanups.unshift(() => profiler.stop());
    const wasmData = new WasmDataSync({
      store,
      planes: dataPlane,
      log: logs.logger("wasm"),
      resyncMs: cluster.resyncMs,
    });
    // After the data planes close: their last changes still reach the store.
    cleanups.splice(
      cleanups.indexOf(closeDataPlane) + 1,
      0,
      () => waitUntil(wasmData.close(), storeLoopsDeadline),
    );
    const statusOf = async (name: string, keepWindows = false) =>
      controlObjects.status(name) ?? await dataPlane.status(name, keepWindows);
    const { hostname, port } = splitHostPort(options.apiAddr, "--api-addr");
    const adminLog = new AdminApiLog(
      await openLogFile(logDir, "admin_api.log"),
    );
    cleanups.splice(cleanups.length - 1, 0, () => adminLog.close());
    // The admin API's requests keep this isolate's heap from being trimmed
    // too; what starting up left is given back after the first quiet spell.
    let adminRequests = 0;
    cleanups.unshift(isolateHeapTrim.watch(() => adminRequests));
    isolateHeapTrim.markDirty();
    // Process-wide, so only here: worker isolates trim their own heaps only.
    isolateHeapTrim.afterFirstTrim(pageOutExecutable);
    // Ends followed logs, which would otherwise hold the admin server's shutdown open.
    const adminStopping = new AbortController();
    // Other members are reached as this one is: their admin APIs are secured alike.
    const peerAccess = memberAccess(adminTls, options.basicAuth);
    cleanups.splice(cleanups.length - 1, 0, () => peerAccess.close());
    const adminContext: AdminContext = {
      store,
      filters,
      memberName: options.name,
      // The status sync and EaseMonitorMetrics, when they run, read the
      // statistics windows every round: an admin read (a dashboard polling
      // `object status get`) restarting them would take its share from what
      // they publish. Else the admin read is the one that restarts them.
      localStatus: (name) => statusOf(name, statusSnapshots.takenWithin(2 * HEARTBEAT_MS)),
      members: () => listMembers(store, cluster.aliveWindowMs),
      purgeMember: (name) => purgeMember(store, name),
      mqttAdmin: async (name, request) => await dataPlane.mqttAdmin(name, request),
      memberAccess: peerAccess,
      log: logs.logger("admin"),
      profiler,
      logFile: logPath,
      stopping: adminStopping.signal,
    };
    const serveAdmin: AdminRequestHandler = (req) => handleAdmin(req, adminContext);
    // Inside the log, so refused credentials are logged as any other request.
    const guardedAdmin = Object.keys(options.basicAuth).length > 0
      ? withBasicAuth(options.basicAuth, serveAdmin)
      : serveAdmin;
    // Listening before any object runs, so that an HTTPServer stored with the admin API's port
    // cannot take it first (with reusePort): the node then never started, its admin API refused
    // "in use" until the object was taken out of the store by hand. Requests wait for the node
    // to be ready, as they found no listener before.
    const ready = Promise.withResolvers<boolean>();
    let admin: AdminServer;
    try {
      admin = await startAdminServer({ hostname, port, tls: adminTls }, async (req, remoteAddr) => {
        if (!(await ready.promise)) return new Response("the node is stopping", { status: 503 });
        adminRequests++;
        return adminLog.serve(req, remoteAddr, guardedAdmin);
      });
    } catch (e) {
      throw new Error(
        `cannot serve the admin API on --api-addr ${options.apiAddr}: ${(e as Error).message}`,
      );
    }
    const stopAdmin = () => {
      ready.resolve(false);
      adminStopping.abort();
      return shutdownAdmin(admin, log);
    };
    cleanups.unshift(stopAdmin);
    const apiPort = admin.port;

    await wasmData.start();
    cleanups.unshift(() => waitUntil(supervisor.stop(), storeLoopsDeadline));
    cleanups.unshift(() => waitUntil(controlObjects.close(), storeLoopsDeadline));
    await supervisor.start();
    const statusSnapshots = new StatusSnapshots(async () => {
      const statuses = new Map<string, Record<string, unknown>>();
      for (const name of running) {
        const status = await statusOf(name);
        if (status) statuses.set(name, status);
      }
      return statuses;
    }, HEARTBEAT_MS - 1_000);

    const membership = startMembership(cluster, {
      options,
      collect: async () => (await statusSnapshots.take()).statuses,
      log: logs.logger("members"),
    });
    cleanups.unshift(() => waitUntil(membership.stop(), storeLoopsDeadline));

    // The admin API stops first, as the first thing to stop taking requests.
    cleanups.splice(cleanups.indexOf(stopAdmin), 1);
    cleanups.unshift(stopAdmin);
    ready.resolve(true);
    log.info(
      `node ${options.name} ready: admin API on ${joinHostPort(hostname, apiPort)}, ` +
        (cluster.mode === "standalone"
          ? `store ${store.name} in ${dataDir}`
          : `cluster ${options.clusterName} (${cluster.mode}), role ${options.clusterRole}`),
    );

    let closing: Promise<void> | undefined;
    return {
      apiPort,
      dataPlane,
      close() {
        if (closing === undefined) {
          storeLoopsDeadline = Date.now() + STORE_LOOPS_STOP_MS;
          log.info(`node ${options.name} stopping: finishing in-flight requests`);
          cleanups.splice(cleanups.length - 1, 0, () => log.info(`node ${options.name} stopped`));
          closing = runCleanups(cleanups, log);
        }
        return closing;
      },
    };
  } catch (e) {
    // A start that fails is a stop too: the store's loops get the same bounded time.
    storeLoopsDeadline = Date.now() + STORE_LOOPS_STOP_MS;
    await runCleanups(cleanups, log);
    throw e;
  }
}

/**
 * How long a stopping node waits for admin API requests in flight. They take
 * milliseconds (a store that does not answer fails them within the cluster
 * request timeout, 10 s by default); one waiting on a client that stalls
 * mid-body, or that does not read its answer, would hold the stop forever.
 */
const ADMIN_DRAIN_MS = 10_000;

/** Stops the admin API, leaving requests unfinished after {@linkcode ADMIN_DRAIN_MS} behind. */
async function shutdownAdmin(
  admin: AdminServer,
  log: { warn(message: string): void },
): Promise<void> {
  let finished = false;
  const shutdown = admin.shutdown().finally(() => finished = true);
  await waitUntil(shutdown, Date.now() + ADMIN_DRAIN_MS);
  // Settled in time: its failure, if any, is the caller's to report.
  if (finished) return shutdown;
  log.warn(
    `admin API requests still unfinished ${ADMIN_DRAIN_MS / 1000} s into the stop are ` +
      "left unanswered",
  );
}

/**
 * Easegress hands its listeners to a new binary on SIGUSR2 (what
 * `--signal-upgrade` sends). This node cannot; it says so and serves on,
 * where the signal's default action would end it at once, dropping
 * in-flight requests. Returns the undo.
 */
function refuseUpgradeSignal(log: { warn(message: string): void }): () => void {
  const onSignal = () =>
    log.warn(
      "SIGUSR2: handing the listeners to a new binary is not supported; the node serves on " +
        "(restart it to upgrade: SIGTERM stops it gracefully)",
    );
  try {
    Deno.addSignalListener("SIGUSR2", onSignal);
  } catch {
    return () => {}; // No such signal here (Windows).
  }
  return () => Deno.removeSignalListener("SIGUSR2", onSignal);
}

/**
 * Logs what nothing caught in this isolate (a plugin's timer, a bug in a
 * control-plane loop) and keeps the process serving: the data planes go on
 * with what they run. A worker's own uncaught error ends that worker, which
 * is replaced (see WorkerPlane).
 */
function logUncaughtErrors(log: { error(message: string): void }): void {
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    const error = event.error as Error | undefined;
    log.error(`uncaught error, the node goes on: ${error?.stack ?? event.message}`);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason as Error | undefined;
    log.error(`unhandled promise rejection, the node goes on: ${reason?.stack ?? reason}`);
  });
}

/** The node's profiler, already running the profiles the options ask for. */
async function startProfiler(
  options: NodeOptions,
  dataPlane: TrafficPlane,
  protectedDirs: string[],
): Promise<NodeProfiler> {
  const workers = dataPlane instanceof WorkerPlane ? dataPlane : undefined;
  const main = thisIsolate(workers ? "control plane" : "node");
  const profiler = new NodeProfiler(
    (): ProfiledIsolate[] => workers ? [main, ...workers.profiledIsolates()] : [main],
    protectedDirs,
  );
  let flag = "--cpu-profile-file";
  try {
    if (options.cpuProfileFile) await profiler.startCpu(options.cpuProfileFile);
    flag = "--memory-profile-file";
    if (options.memoryProfileFile) await profiler.startMemory(options.memoryProfileFile);
  } catch (e) {
    await profiler.stop().catch(() => {});
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
  return profiler;
}

async function runCleanups(
  cleanups: (() => unknown)[],
  log: { warn(m: string): void },
): Promise<void> {
  for (const c of cleanups) {
    try {
      await c();
    } catch (e) {
      log.warn(`shutdown: ${(e as Error).message}`);
    }
  }
}

/**
 * Puts the objects of `files` into the store where their names are absent.
 * A file that cannot be read or a document that is not a valid object is
 * logged and skipped, as Easegress does: the node starts with the rest.
 */
async function createInitialObjects(
  store: Store,
  files: string[],
  filters: ReturnType<typeof builtinFilters>,
  log: { info(m: string): void; error(m: string): void },
): Promise<void> {
  for (const file of files) {
    let text: string;
    try {
      // Not UTF-8 is refused, as ctl and the admin API refuse it, rather than stored with U+FFFD.
      text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
    } catch (e) {
      const why = e instanceof TypeError ? "it is not UTF-8 text" : (e as Error).message;
      log.error(`initial object file ${file} skipped: cannot read it: ${why}`);
      continue;
    }
    const { parseAllDocuments } = await loadYaml();
    const docs = parseAllDocuments(text, CONFIG_YAML_OPTIONS);
    if (!Array.isArray(docs)) {
      log.error(`initial object file ${file} skipped: not YAML`);
      continue;
    }
    for (const [i, doc] of docs.entries()) {
      const skipped = `initial object file ${file}: document ${i + 1} skipped`;
      if (doc.errors.length) {
        log.error(`${skipped}: ${doc.errors[0].message}`);
        continue;
      }
      let spec;
      try {
        const value = doc.toJS();
        // An empty document (a trailing "---", only comments) reads as null: nothing to create.
        if (value === null) continue;
        spec = validateObject(value, filters);
      } catch (e) {
        const why = e instanceof SpecError ? e.problems.join("; ") : (e as Error).message;
        log.error(`${skipped}: ${why}`);
        continue;
      }
      if (await store.put(keys.object(spec.name), JSON.stringify(spec), { expectRevision: 0 })) {
        log.info(`created ${spec.kind} ${spec.name} from ${file}`);
      }
    }
  }
}
