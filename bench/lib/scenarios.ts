/**
 * The benchmark scenarios: which contenders each starts, which load it puts
 * on them, and how the rounds are interleaved (A/B/A/B, so drift on a
 * shared machine falls on every contender alike).
 *
 * @module
 */

import {
  type BenchEnv,
  type Contender,
  startHaproxy,
  startNginx,
  startNode,
} from "./contenders.ts";
import { pinnedCommand } from "./cpu_pinning.ts";
import {
  CACHED_PATH,
  LARGE_BODY_SIZE,
  LARGE_PATH,
  nodeObjects,
  type NodeObjectsOptions,
  type ProxyMode,
  SMALL_BODY,
  VALIDATED_PATH,
  VALIDATOR_HEADER,
} from "./configs.ts";
import {
  h2loadCommand,
  h2loadLogPercentiles,
  type LoadResult,
  parseH2load,
  parseWrk,
  wrkCommand,
} from "./load.ts";
import { endedBy, logTail } from "./processes.ts";
import { cpuTimes, rssKb, RssSampler, threadCount } from "./proc_stats.ts";
import {
  bestRoundCost,
  compareIdleToNginx,
  compareToNginx,
  type ContenderResult,
  type IdleResult,
  type RoundResult,
  type ScenarioResult,
  summarize,
} from "./report.ts";
import { Turns } from "./turns.ts";

/** How long and how often to measure. */
export interface RunSettings {
  /** Seconds per measured run. */
  seconds: number;
  /** Measured runs per contender, interleaved with the others'. */
  rounds: number;
  /**
   * Seconds of unmeasured load right before each measured run: a contender
   * otherwise starts each round after waiting, stopped, through the
   * others' rounds.
   */
  warmupSeconds: number;
  /** Data-plane workers of the extra "node-Nw" contender; 0 leaves it out. */
  workers: number;
  /** Connections held open in the idle scenario. */
  idleConnections: number;
  /** Prints progress. */
  log: (line: string) => void;
  /** True once the run is being stopped (Ctrl-C): failures then end the scenario. */
  stopping: () => boolean;
}

/** One scenario. */
export interface Scenario {
  name: string;
  description: string;
  run(env: BenchEnv, settings: RunSettings): Promise<ScenarioResult>;
}

/** Starts one contender; `optional` ones that fail to start are skipped with a note. */
interface Starter {
  name: string;
  optional?: boolean;
  start(): Promise<Contender>;
}

type Load = (contender: Contender, seconds: number) => Promise<LoadResult>;

const PROXY: ProxyMode = { answer: "proxy" };
const STATIC: ProxyMode = { answer: "static" };
const CACHED: ProxyMode = { answer: "cached" };

/** Starts the contenders in turn; stops those already started if a required one fails. */
async function startAll(
  starters: readonly Starter[],
  notes: string[],
): Promise<Contender[]> {
  const started: Contender[] = [];
  for (const starter of starters) {
    try {
      started.push(await starter.start());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!starter.optional) {
        throw new Error(`${starter.name} did not start: ${message}`, { cause: error });
      }
      notes.push(`${starter.name} skipped: ${message.split("\n")[0]}`);
    }
  }
  return started;
}

/** Runs `body` with the contenders started, and stops them whatever happens. */
async function withContenders<T>(
  env: BenchEnv,
  starters: readonly Starter[],
  notes: string[],
  body: (contenders: Contender[]) => Promise<T>,
): Promise<T> {
  const contenders: Contender[] = [];
  try {
    contenders.push(...await startAll(starters, notes));
    return await body(contenders);
  } finally {
    for (const c of contenders) await env.group.stop(c.process);
  }
}

/** One measured run: the load plus the contender's CPU time and peak RSS meanwhile. */
async function measure(contender: Contender, load: Load, seconds: number): Promise<RoundResult> {
  const before = cpuTimes(contender.pids);
  const sampler = new RssSampler(contender.pids);
  let result: LoadResult;
  try {
    result = await load(contender, seconds);
  } finally {
    sampler.stop();
  }
  const after = cpuTimes(contender.pids);
  const user = after.user - before.user;
  const system = after.system - before.system;
  const cpu = user + system;
  const usPerRequest = (s: number) => result.requests > 0 ? s * 1e6 / result.requests : NaN;
  return {
    ...result,
    cpuSeconds: cpu,
    requestsPerCpuSecond: cpu > 0 ? result.requests / cpu : NaN,
    userUsPerRequest: usPerRequest(user),
    systemUsPerRequest: usPerRequest(system),
    peakRssMb: sampler.stop() / 1024,
  };
}

/** Why a load run failed, with the contender's state and log when it has died. */
function loadFailure(c: Contender, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!c.process.exited) return message;
  const ended = endedBy(c.process.status);
  return `${message}\n${c.name} has exited (${ended}):\n${logTail(c.process.logFile)}`;
}

/**
 * Warms every contender up (JIT, pools), then measures them in interleaved
 * rounds, each after `settings.warmupSeconds` of unmeasured load, with the
 * other contenders stopped meanwhile (see Turns). A contender whose run
 * fails is dropped from the later rounds with the reason, and the others
 * go on.
 */
async function interleave(
  contenders: readonly Contender[],
  load: Load,
  settings: RunSettings,
): Promise<ContenderResult[]> {
  const rounds = new Map<Contender, RoundResult[]>(contenders.map((c) => [c, []]));
  const errors = new Map<Contender, string>();
  const turns = new Turns(contenders);
  const attempt = async (c: Contender, run: () => Promise<void>) => {
    if (errors.has(c)) return;
    turns.give(c);
    try {
      await run();
    } catch (error) {
      if (settings.stopping()) throw error;
      errors.set(c, loadFailure(c, error));
      settings.log(`  ${c.name} failed: ${errors.get(c)}`);
    }
  };
  try {
    for (const c of contenders) {
      settings.log(`  warm-up ${c.name}`);
      await attempt(c, async () => void await load(c, 1));
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const c of contenders) {
        await attempt(c, async () => {
          if (settings.warmupSeconds > 0) await load(c, settings.warmupSeconds);
          const result = await measure(c, load, settings.seconds);
          settings.log(
            `  round ${round} ${c.name}: ${result.requestsPerSecond.toFixed(0)} req/s, ` +
              `${result.requestsPerCpuSecond.toFixed(0)} req/CPU-s`,
          );
          rounds.get(c)!.push(result);
        });
      }
    }
  } finally {
    // Stopped processes must run again to be shut down.
    turns.end();
  }
  const results = contenders.map((c): ContenderResult => ({
    name: c.name,
    threads: threadCount(c.process.pid),
    rounds: rounds.get(c)!,
    summary: summarize(rounds.get(c)!),
    ...(errors.has(c) ? { error: errors.get(c) } : {}),
  }));
  compareToNginx(results);
  return results;
}

function wrkLoad(
  env: BenchEnv,
  options: { connections: number; path?: string; headers?: Record<string, string> },
): Load {
  return async (c, seconds) =>
    parseWrk(
      await env.group.run(
        "wrk",
        pinnedCommand(
          wrkCommand({
            url: `http://127.0.0.1:${c.port}${options.path ?? "/"}`,
            connections: options.connections,
            seconds,
            headers: options.headers,
          }),
          env.cpus?.tools,
        ),
      ),
    );
}

function h2Load(env: BenchEnv, connections: number, streams: number): Load {
  return async (c, seconds) => {
    const logFile = `${env.dir}/h2load-${c.name}.log`;
    const output = await env.group.run(
      "h2load",
      pinnedCommand(
        h2loadCommand({
          url: `https://127.0.0.1:${c.port}/`,
          connections,
          streams,
          seconds,
          logFile,
        }),
        env.cpus?.tools,
      ),
    );
    const result = parseH2load(output);
    const percentiles = h2loadLogPercentiles(await Deno.readTextFile(logFile));
    await Deno.remove(logFile);
    return { ...result, ...percentiles };
  };
}

function nodeStarter(
  env: BenchEnv,
  pipeline: NodeObjectsOptions["pipeline"],
  options: {
    name?: string;
    workers?: number;
    /** Hold every worker to the proxy's CPU. @default {true for one data plane} */
    pin?: boolean;
    http1Server?: "builtin" | "deno";
    mode?: ProxyMode;
    path?: string;
  } = {},
): Starter {
  const name = options.name ?? "node";
  const mode = options.mode ??
    (pipeline === "static" ? STATIC : pipeline === "cached" ? CACHED : PROXY);
  const tls = mode.tls && env.tls
    ? {
      certBase64: btoa(env.tls.certPem),
      keyBase64: btoa(Deno.readTextFileSync(env.tls.keyFile)),
    }
    : undefined;
  return {
    name,
    optional: options.workers !== undefined || options.http1Server !== undefined,
    start: () =>
      startNode(env, {
        name,
        workers: options.workers,
        pin: options.pin,
        http1Server: options.http1Server,
        mode,
        path: options.path,
        bodyLength: options.path === LARGE_PATH ? LARGE_BODY_SIZE : SMALL_BODY.length,
        headers: pipeline === "both"
          ? { [VALIDATOR_HEADER.name]: VALIDATOR_HEADER.value }
          : undefined,
        objects: (port) => nodeObjects({ port, backendPort: env.backendPort, pipeline, tls: tls }),
      }),
  };
}

/** The three proxies in front of the backend, and optionally our node with workers and on `Deno.serve`. */
function proxyStarters(
  env: BenchEnv,
  settings: RunSettings,
  options: { path?: string; withNodeVariants: boolean; mode?: ProxyMode },
): Starter[] {
  const mode = options.mode ?? PROXY;
  const check = {
    path: options.path,
    bodyLength: options.path === LARGE_PATH ? LARGE_BODY_SIZE : SMALL_BODY.length,
  };
  const pipeline = mode.answer;
  const starters = [nodeStarter(env, pipeline, { mode, path: options.path })];
  if (options.withNodeVariants && settings.workers > 0) {
    const workers = settings.workers;
    starters.push(
      nodeStarter(env, pipeline, { name: `node-${workers}w`, workers, mode, path: options.path }),
      // The same workers held to the proxy's one CPU: what the workers themselves cost per
      // request, apart from competing with the load generator for the other CPUs.
      nodeStarter(env, pipeline, {
        name: `node-${workers}w-1cpu`,
        workers,
        pin: true,
        mode,
        path: options.path,
      }),
    );
  }
  if (options.withNodeVariants) {
    // The same node with plain HTTP on Deno.serve, for the trade-off in the README.
    starters.push(
      nodeStarter(env, pipeline, {
        name: "node-deno",
        http1Server: "deno",
        mode,
        path: options.path,
      }),
    );
  }
  starters.push(
    { name: "nginx", start: () => startNginx(env, mode, check) },
    { name: "haproxy", start: () => startHaproxy(env, mode, check) },
  );
  return starters;
}

function wrkScenario(
  name: string,
  description: string,
  options: {
    connections: number;
    path?: string;
    withNodeVariants: boolean;
    mode?: ProxyMode;
    headers?: Record<string, string>;
  },
): Scenario {
  return {
    name,
    description,
    async run(env, settings) {
      const notes: string[] = [];
      const contenders = await withContenders(
        env,
        proxyStarters(env, settings, options),
        notes,
        (started) => interleave(started, wrkLoad(env, options), settings),
      );
      const fields = options.headers ? Object.keys(options.headers).length : 0;
      const load = `wrk -t1 -c${options.connections} GET ${options.path ?? "/"}` +
        (fields > 0 ? ` with ${fields} more request headers` : "");
      return { name, description, load, contenders, notes };
    },
  };
}

const H2_CONNECTIONS = 16;
const H2_STREAMS = 16;

/** HTTP/2 over TLS from h2load: proxied to the backend, or answered by the proxy itself. */
function h2Scenario(name: string, description: string, answer: ProxyMode["answer"]): Scenario {
  return {
    name,
    description,
    async run(env, settings) {
      if (!env.tls) throw new Error("no TLS certificate: is openssl installed?");
      const mode: ProxyMode = { answer, tls: env.tls };
      const notes: string[] = [];
      const contenders = await withContenders(
        env,
        proxyStarters(env, settings, { withNodeVariants: false, mode }),
        notes,
        (started) => interleave(started, h2Load(env, H2_CONNECTIONS, H2_STREAMS), settings),
      );
      return {
        name,
        description,
        load: `h2load -t1 -c${H2_CONNECTIONS} -m${H2_STREAMS} GET / (p50/p99 from its log file)`,
        contenders,
        notes,
      };
    },
  };
}

const pipelineCostScenario: Scenario = {
  name: "pipeline-cost",
  description: "our node: Validator + RequestAdaptor + Proxy against Proxy alone, on one node",
  async run(env, settings) {
    const notes: string[] = [];
    const headers = { [VALIDATOR_HEADER.name]: VALIDATOR_HEADER.value };
    // One node serves both pipelines, on two paths, and the rounds alternate
    // between them: two processes differ by more than the filters cost
    // (compiled code, heap layout, when each collects), which cancels here.
    const contenders = await withContenders(
      env,
      [nodeStarter(env, "both", { name: "node" })],
      notes,
      (started) => {
        const [node] = started;
        const plain: Contender = { ...node, name: "node proxy" };
        const full: Contender = { ...node, name: "node validator+adaptor+proxy" };
        const plainLoad = wrkLoad(env, { connections: 64, headers });
        const fullLoad = wrkLoad(env, { connections: 64, headers, path: VALIDATED_PATH });
        return interleave(
          [plain, full],
          (c, seconds) => (c === full ? fullLoad : plainLoad)(c, seconds),
          settings,
        );
      },
    );
    const [plain, full] = contenders;
    return {
      name: this.name,
      description: this.description,
      load:
        `wrk -t1 -c64 GET / and GET ${VALIDATED_PATH} in turns, with ${VALIDATOR_HEADER.name}: ${VALIDATOR_HEADER.value}`,
      contenders,
      cost: bestRoundCost(plain.rounds, full.rounds),
      notes,
    };
  },
};

/** Reads the first line a child prints, or throws after `timeoutMs`. */
async function firstLine(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      text += value;
    }
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return text.split("\n")[0];
}

/**
 * How long the idle connections are held before the settled RSS is read:
 * longer than the half minute of quiet after which our node trims its heap.
 */
const SETTLE_MS = 35_000;
/** Rest after the warm-up, so the baseline is a proxy at rest rather than mid-burst. */
const REST_MS = 35_000;

/** Opens the idle connections against one contender and reads its memory meanwhile. */
async function holdIdle(env: BenchEnv, c: Contender, count: number): Promise<IdleResult> {
  const baseline = rssKb(c.pids);
  const sampler = new RssSampler(c.pids);
  const client = env.group.spawnPiped(
    "idle client",
    pinnedCommand([
      Deno.execPath(),
      "run",
      "--allow-net",
      `${env.repoRoot}/bench/idle_client.ts`,
      "--port",
      String(c.port),
      "--count",
      String(count),
    ], env.cpus?.tools),
  );
  try {
    const line = await firstLine(client.child.stdout, 120_000);
    const report = JSON.parse(line) as { open: number; failed: number; firstError: string };
    // Let the proxy settle with every connection idle, sampling meanwhile:
    // long enough for a proxy that trims its heap when traffic stops to do so.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const peak = sampler.stop();
    const settled = rssKb(c.pids);
    return {
      name: c.name,
      open: report.open,
      failed: report.failed,
      firstError: report.firstError || undefined,
      baselineRssMb: baseline / 1024,
      peakRssMb: peak / 1024,
      settledRssMb: settled / 1024,
      kbPerConnection: report.open ? (settled - baseline) / report.open : NaN,
    };
  } finally {
    sampler.stop();
    await client.child.stdin.close().catch(() => {});
    await env.group.stop(client, 10_000);
  }
}

const idleScenario: Scenario = {
  name: "idle-10k",
  description: "idle keep-alive connections held open: memory of each proxy",
  async run(env, settings) {
    const count = settings.idleConnections;
    const notes: string[] = [];
    // Room for every idle connection plus the upstream ones.
    const room = count + 1024;
    const check = { bodyLength: SMALL_BODY.length };
    const starters: Starter[] = [
      {
        name: "node",
        start: () =>
          startNode(env, {
            mode: PROXY,
            ...check,
            objects: (port) =>
              nodeObjects({
                port,
                backendPort: env.backendPort,
                pipeline: "proxy",
                maxConnections: room,
              }),
          }),
      },
      { name: "nginx", start: () => startNginx(env, PROXY, { ...check, workerConnections: room }) },
      {
        name: "haproxy",
        start: () => startHaproxy(env, PROXY, { ...check, maxConnections: room }),
      },
    ];
    const idle = await withContenders(env, starters, notes, async (started) => {
      const results: IdleResult[] = [];
      const warmUp = wrkLoad(env, { connections: 16 });
      for (const c of started) {
        // Code and pools warm first, so the growth measured is the connections'.
        await warmUp(c, 1);
        await new Promise((resolve) => setTimeout(resolve, REST_MS));
        settings.log(`  ${count} idle connections to ${c.name}`);
        const result = await holdIdle(env, c, count);
        settings.log(
          `  ${c.name}: ${result.open} open, peak RSS ${result.peakRssMb.toFixed(1)} MB`,
        );
        if (result.failed) notes.push(`${c.name}: ${result.failed} failed: ${result.firstError}`);
        results.push(result);
      }
      return results;
    });
    compareIdleToNginx(idle);
    notes.push(
      "each proxy warmed by 1 s of wrk -c16, then rests 35 s; each connection makes one GET, " +
        "then stays idle; peak = sampled summed VmRSS while they open and for 35 s after; " +
        "settled = VmRSS at the end of those 35 s",
    );
    return {
      name: this.name,
      description: this.description,
      load: `${count} connections, one GET each, then idle`,
      idle,
      notes,
    };
  },
};

/**
 * What a browser sends besides Host: wrk's bare GET carries no other field,
 * while real requests make a proxy parse, check and forward several hundred
 * bytes of headers.
 */
const BROWSER_HEADERS: Record<string, string> = {
  "User-Agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "Accept-Encoding": "gzip, deflate, br",
  "Accept-Language": "en-US,en;q=0.9",
  "Cookie": "session=abcdef0123456789; theme=dark; _ga=GA1.2.3456",
  "Referer": "http://127.0.0.1/index.html",
  "Cache-Control": "no-cache",
};

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  wrkScenario("proxy-small-64", "HTTP/1.1 proxy, small body, 64 connections", {
    connections: 64,
    withNodeVariants: true,
  }),
  wrkScenario("proxy-small-512", "HTTP/1.1 proxy, small body, 512 connections", {
    connections: 512,
    withNodeVariants: true,
  }),
  wrkScenario(
    "proxy-browser-64",
    "HTTP/1.1 proxy, small body, 64 connections, requests with a browser's headers",
    { connections: 64, withNodeVariants: false, headers: BROWSER_HEADERS },
  ),
  wrkScenario("proxy-16k-64", "HTTP/1.1 proxy, 16 KB body, 64 connections", {
    connections: 64,
    path: LARGE_PATH,
    withNodeVariants: false,
  }),
  wrkScenario("static", "answered by the proxy itself (our Mock, nginx/HAProxy return 200)", {
    connections: 64,
    withNodeVariants: true,
    mode: STATIC,
  }),
  wrkScenario(
    "proxy-cached-64",
    "HTTP/1.1 proxy answering from its cache (our memoryCache, nginx proxy_cache, HAProxy cache)",
    { connections: 64, path: CACHED_PATH, withNodeVariants: false, mode: CACHED },
  ),
  h2Scenario(
    "h2-tls",
    "HTTP/2 over TLS to the proxy, HTTP/1.1 keep-alive to the backend",
    "proxy",
  ),
  h2Scenario(
    "h2-static",
    "HTTP/2 over TLS, answered by the proxy itself (our Mock, nginx/HAProxy return 200)",
    "static",
  ),
  pipelineCostScenario,
  idleScenario,
];
