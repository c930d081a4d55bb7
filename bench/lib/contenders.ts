/**
 * Starting the programs a benchmark compares: the static nginx backend and,
 * in front of it, our node, nginx and HAProxy. Each runs in the foreground
 * as a process of the run's {@linkcode ProcessGroup}, with its files in the
 * run's temporary directory, and is checked to answer before it is measured.
 *
 * @module
 */

import {
  backendNginxConf,
  haproxyConf,
  LARGE_BODY_SIZE,
  type NodeObject,
  type ProxyMode,
  proxyNginxConf,
  SMALL_BODY,
  type TlsFiles,
} from "./configs.ts";
import { logTail, type OwnedProcess, type ProcessGroup } from "./processes.ts";
import { type CpuPlan, pinProcesses } from "./cpu_pinning.ts";
import { processTree } from "./proc_stats.ts";

/** What every start function needs. */
export interface BenchEnv {
  group: ProcessGroup;
  /** The run's temporary directory. */
  dir: string;
  /** The repository root (where main.ts is). */
  repoRoot: string;
  /** The Deno executable our node runs from (see {@linkcode privateRuntimeCopy}). */
  nodeExecutable: string;
  backendPort: number;
  /** TLS files, when a scenario needs them. */
  tls?: TlsFiles & { certPem: string };
  /** Where the proxy under test and the other programs run; null: unpinned. */
  cpus: CpuPlan | null;
}

/** A started program under test. */
export interface Contender {
  /** Short name in the results: "node", "node-2w", "nginx", "haproxy". */
  readonly name: string;
  readonly port: number;
  readonly process: OwnedProcess;
  /** Its process and children (nginx master and worker), taken once it answered. */
  readonly pids: readonly number[];
}

/**
 * Copies the Deno executable into `dir` for our node to run from, as a
 * compiled `easegress` binary runs from a file of its own. Run from the
 * shared one, every page of code the node touched that this benchmark's
 * own Deno processes (the runner, the idle client) also map stays resident
 * in the node and counts in its RSS: the kernel gives back a page only once
 * no other process maps it. That added about 20 MB to the node's RSS that
 * the node alone on a machine would not have.
 */
export function privateRuntimeCopy(dir: string): string {
  const path = `${dir}/deno`;
  Deno.copyFileSync(Deno.execPath(), path);
  Deno.chmodSync(path, 0o755);
  return path;
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Options for {@linkcode waitUntilAnswering}. */
export interface WaitOptions {
  /** How long to keep trying. @default {15000} */
  timeoutMs?: number;
  /** Body length the answer must have, when known. */
  bodyLength?: number;
  headers?: Record<string, string>;
  /** For HTTPS: trusts this certificate. */
  caCertPem?: string;
}

/**
 * Polls `url` until it answers 200 (with the expected body length), failing
 * early with the process's log when the process exits.
 */
export async function waitUntilAnswering(
  owned: OwnedProcess,
  url: string,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  const client = options.caCertPem
    ? Deno.createHttpClient({ caCerts: [options.caCertPem] })
    : undefined;
  let last = "no answer";
  try {
    while (Date.now() < deadline) {
      if (owned.exited) {
        throw new Error(`${owned.name} exited while starting:\n${logTail(owned.logFile)}`);
      }
      try {
        const res = await fetch(url, { headers: options.headers, client });
        const body = await res.bytes();
        if (
          res.status === 200 &&
          (options.bodyLength === undefined || body.length === options.bodyLength)
        ) return;
        last = `status ${res.status}, ${body.length} body bytes`;
      } catch (error) {
        last = error instanceof Error
          ? [error.message, (error.cause as Error | undefined)?.message].filter(Boolean).join(": ")
          : String(error);
      }
      await sleep(100);
    }
  } finally {
    client?.close();
  }
  throw new Error(
    `${owned.name} did not answer ${url} with 200 in time (last: ${last})\n${
      logTail(owned.logFile)
    }`,
  );
}

function writeFile(path: string, text: string): string {
  Deno.writeTextFileSync(path, text);
  return path;
}

const userRoot = () => Deno.uid() === 0;

/** Starts the static nginx backend (small body at `/`, 16 KB at `/16k`), on `cpus` when given. */
export async function startBackend(
  group: ProcessGroup,
  dir: string,
  cpus: string | undefined,
): Promise<{ port: number; process: OwnedProcess }> {
  const port = freePort();
  Deno.writeTextFileSync(`${dir}/16k.txt`, "x".repeat(LARGE_BODY_SIZE));
  const conf = writeFile(
    `${dir}/backend.conf`,
    backendNginxConf({ dir, port, userRoot: userRoot() }),
  );
  const process = group.spawnLogged(
    "backend nginx",
    ["nginx", "-p", dir, "-e", `${dir}/backend-error.log`, "-c", conf],
    `${dir}/backend.log`,
  );
  await waitUntilAnswering(process, `http://127.0.0.1:${port}/`, {
    bodyLength: SMALL_BODY.length,
  });
  if (cpus !== undefined) await pinProcesses(processTree(process.pid), cpus);
  return { port, process };
}

/** How a started contender is checked before it is measured. */
export interface ReadyCheck {
  /** Path to request. @default {"/"} */
  path?: string;
  bodyLength?: number;
  headers?: Record<string, string>;
  /** Run it on the proxy's CPU (see `cpu_pinning.ts`). @default {true} */
  pin?: boolean;
}

function checkUrl(port: number, mode: ProxyMode, check: ReadyCheck): string {
  const scheme = mode.tls ? "https" : "http";
  return `${scheme}://127.0.0.1:${port}${check.path ?? "/"}`;
}

async function ready(
  env: BenchEnv,
  name: string,
  owned: OwnedProcess,
  port: number,
  mode: ProxyMode,
  check: ReadyCheck,
): Promise<Contender> {
  await waitUntilAnswering(owned, checkUrl(port, mode, check), {
    bodyLength: check.bodyLength,
    headers: check.headers,
    caCertPem: mode.tls ? env.tls?.certPem : undefined,
  });
  const pids = processTree(owned.pid);
  if (env.cpus !== null && check.pin !== false) await pinProcesses(pids, env.cpus.proxy);
  return { name, port, process: owned, pids };
}

/** Starts nginx (one worker) as a proxy in front of the backend, or answering by itself. */
export async function startNginx(
  env: BenchEnv,
  mode: ProxyMode,
  check: ReadyCheck & { workerConnections?: number } = {},
): Promise<Contender> {
  const port = freePort();
  const conf = writeFile(
    `${env.dir}/nginx-${port}.conf`,
    proxyNginxConf({
      dir: env.dir,
      port,
      backendPort: env.backendPort,
      mode,
      workerConnections: check.workerConnections ?? 2048,
      userRoot: userRoot(),
    }),
  );
  const owned = env.group.spawnLogged(
    "nginx",
    ["nginx", "-p", env.dir, "-e", `${env.dir}/nginx-error.log`, "-c", conf],
    `${env.dir}/nginx-${port}.log`,
  );
  return await ready(env, "nginx", owned, port, mode, check);
}

/** Starts HAProxy (one thread) as a proxy in front of the backend, or answering by itself. */
export async function startHaproxy(
  env: BenchEnv,
  mode: ProxyMode,
  check: ReadyCheck & { maxConnections?: number } = {},
): Promise<Contender> {
  const port = freePort();
  const conf = writeFile(
    `${env.dir}/haproxy-${port}.cfg`,
    haproxyConf({
      port,
      backendPort: env.backendPort,
      mode,
      maxConnections: check.maxConnections ?? 4096,
    }),
  );
  // -db: stay in the foreground, one process, no master-worker.
  const owned = env.group.spawnLogged(
    "haproxy",
    ["haproxy", "-db", "-f", conf],
    `${env.dir}/haproxy-${port}.log`,
  );
  return await ready(env, "haproxy", owned, port, mode, check);
}

/** Options for {@linkcode startNode}. */
export interface NodeStartOptions extends ReadyCheck {
  /** Name in the results. @default {"node"} */
  name?: string;
  /** `--workers N`. @default {1} one data-plane isolate, as nginx's one worker. */
  workers?: number;
  /** `--http1-server`. @default {"builtin"} */
  http1Server?: "builtin" | "deno";
  /** The objects to create once the admin API answers. */
  objects: (port: number) => NodeObject[];
  mode: ProxyMode;
}

/** Starts our node, creates the scenario's objects through its admin API, waits for them. */
export async function startNode(env: BenchEnv, options: NodeStartOptions): Promise<Contender> {
  const name = options.name ?? "node";
  const apiPort = freePort();
  const port = freePort();
  const home = `${env.dir}/${name}-${port}`;
  Deno.mkdirSync(home);
  const command = [
    env.nodeExecutable,
    "run",
    // As `deno task serve`: lets the node give heap back when traffic stops.
    "--v8-flags=--expose-gc,--no-memory-reducer,--max-semi-space-size=8,--no-allocation-site-pretenuring,--enable-experimental-regexp-engine-on-excessive-backtracks",
    "--unstable-net",
    "--unstable-no-legacy-abort",
    "--allow-all",
    `${env.repoRoot}/main.ts`,
    "serve",
    "--api-addr",
    `127.0.0.1:${apiPort}`,
    "--home-dir",
    home,
    // nginx and HAProxy run without access logs too.
    "--disable-access-log",
  ];
  command.push("--workers", String(options.workers ?? 1));
  command.push("--http1-server", options.http1Server ?? "builtin");
  const owned = env.group.spawnLogged(name, command, `${home}/stdout.log`, {
    cwd: env.repoRoot,
    // As `deno task serve`: one malloc arena (see Memory in the README).
    env: { MALLOC_ARENA_MAX: "1" },
  });
  const api = `http://127.0.0.1:${apiPort}/apis/v2`;
  await waitUntilAnswering(owned, `${api}/healthz`, { timeoutMs: 60_000 });
  for (const object of options.objects(port)) {
    const res = await fetch(`${api}/objects`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(object),
    });
    const text = await res.text();
    if (res.status !== 201) {
      throw new Error(
        `${name}: creating ${object.kind} ${object.name} answered ${res.status}: ${text}`,
      );
    }
  }
  // Several workers are there to use several cores: not held to the proxy's one.
  const pin = options.pin ?? (options.workers ?? 1) <= 1;
  return await ready(env, name, owned, port, options.mode, { ...options, pin });
}
