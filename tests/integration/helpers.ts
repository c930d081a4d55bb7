/**
 * Helpers for integration tests: real node processes started through
 * `main.ts`, the ctl client run as a process, free ports, temp dirs.
 *
 * @module
 */

import { joinHostPort } from "../../filters/ip_address.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const DENO_FLAGS = [
  "run",
  "--v8-flags=--expose-gc,--no-memory-reducer,--max-semi-space-size=8,--no-allocation-site-pretenuring,--enable-experimental-regexp-engine-on-excessive-backtracks",
  "--unstable-net",
  "--unstable-no-legacy-abort",
  "--allow-all",
];

const handedOut = new Set<number>();
const PORT_CLAIMS = "/tmp/easegress-test-ports";
const CLAIM_LIFETIME_MS = 15 * 60_000;

/**
 * A TCP port that was free a moment ago and that no other test process of
 * this machine was handed in the last minutes: test files run in parallel
 * and data planes bind with SO_REUSEPORT, so two tests given one port would
 * share it silently. A port is claimed by creating a file named after it.
 */
export function freePort(): number {
  Deno.mkdirSync(PORT_CLAIMS, { recursive: true });
  for (;;) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (claim(`${PORT_CLAIMS}/${port}`)) return port;
  }
}

function claim(path: string): boolean {
  try {
    Deno.writeTextFileSync(path, String(Deno.pid), { createNew: true });
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  // A claim left by an earlier run expires.
  try {
    const age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? 0);
    if (age < CLAIM_LIFETIME_MS) return false;
    Deno.writeTextFileSync(path, String(Deno.pid));
    return true;
  } catch {
    return false;
  }
}

/** The output of a finished process. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `easegress ctl ...args` against `apiAddr`, optionally with stdin and more environment. */
export async function ctl(
  apiAddr: string,
  args: string[],
  stdin?: string,
  env?: Record<string, string>,
): Promise<RunResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...DENO_FLAGS, MAIN, "ctl", "--server", apiAddr, ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A node process started for a test. */
export interface NodeProcess {
  /** "127.0.0.1:PORT" of the admin API. */
  readonly apiAddr: string;
  readonly homeDir: string;
  /** Runs ctl against this node. */
  ctl(args: string[], stdin?: string): Promise<RunResult>;
  /** Sends a signal and waits for the exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Sends a signal without waiting. */
  signal(signal: Deno.Signal): void;
  /** The exit code, once the node has exited (by itself or a signal sent before). */
  exited(): Promise<number>;
  /** What the node printed so far (stderr). */
  output(): string;
}

/** Options for {@linkcode startNodeProcess}. */
export interface StartOptions {
  /** Reuse a home dir (restart tests); a new temp dir by default. */
  homeDir?: string;
  /** Extra `serve` flags. */
  args?: string[];
  apiPort?: number;
  /** The admin API's host. @default {"127.0.0.1"} */
  apiHost?: string;
  /** Extra environment variables for the node process. */
  env?: Record<string, string>;
  /** Called with all the node has printed so far, each time it prints. */
  onOutput?: (printed: string) => void;
  /** How long the node may take to answer. @default 20000 */
  startTimeoutMs?: number;
  /**
   * Whether the node is up: its admin API answers `GET /healthz` over plain
   * HTTP by default, which a node serving it over HTTPS or behind basic auth
   * does not.
   */
  isReady?: (apiAddr: string) => Promise<boolean>;
}

async function answersHealthz(apiAddr: string): Promise<boolean> {
  const r = await fetch(`http://${apiAddr}/apis/v2/healthz`);
  await r.body?.cancel();
  return r.ok;
}

/** Starts `easegress serve` as a process and waits until its admin API answers. */
export async function startNodeProcess(options: StartOptions = {}): Promise<NodeProcess> {
  const homeDir = options.homeDir ?? await Deno.makeTempDir({ prefix: "eg-test-" });
  const apiAddr = joinHostPort(options.apiHost ?? "127.0.0.1", options.apiPort ?? freePort());
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...DENO_FLAGS,
      MAIN,
      "serve",
      "--api-addr",
      apiAddr,
      "--home-dir",
      homeDir,
      ...(options.args ?? []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  let printed = "";
  const dec = new TextDecoder();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      printed += dec.decode(chunk);
      options.onOutput?.(printed);
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exited) {
      await drained;
      throw new Error(`node exited early:\n${printed}`);
    }
    try {
      if (await (options.isReady ?? answersHealthz)(apiAddr)) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await status;
      await drained;
      throw new Error(`node did not start in time:\n${printed}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    apiAddr,
    homeDir,
    ctl: (args, stdin) => ctl(apiAddr, args, stdin),
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
      const s = await status;
      await drained;
      return s.code;
    },
    signal(signal: Deno.Signal) {
      child.kill(signal);
    },
    async exited() {
      const s = await status;
      await drained;
      return s.code;
    },
    output: () => printed,
  };
}

/** Polls `check` until it returns true or `ms` pass; throws with `what` on timeout. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * The statuses of `count` requests to `url`, each on a new connection so
 * that the kernel spreads them over the workers' listeners.
 */
export async function statusesOnNewConnections(url: string, count: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await fetch(url, { headers: { connection: "close" } });
    await r.body?.cancel();
    codes.push(r.status);
  }
  return codes;
}

/** GET/POST a URL and return status and body text. */
export async function request(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.text(), headers: r.headers };
}

/** Checks that `ctl object create` refuses each YAML document, with a message matching its pattern. */
export async function assertRefused(
  node: NodeProcess,
  cases: readonly [yaml: string, expected: RegExp][],
): Promise<void> {
  for (const [yaml, expected] of cases) {
    const r = await node.ctl(["object", "create"], yaml);
    if (r.code !== 1 || !expected.test(r.stderr)) {
      throw new Error(
        `expected a refusal matching ${expected}:\n${yaml}\ngot ${r.code}: ${r.stderr}`,
      );
    }
  }
}
