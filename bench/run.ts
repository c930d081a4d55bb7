/**
 * `deno task bench`: our node against nginx (one worker) and HAProxy (one
 * thread) as reverse proxies in front of the same static nginx backend,
 * under the same load. Prints one table per scenario and writes the whole
 * run to `bench/results/latest.json`.
 *
 * Installs nothing (`tools/ensure_deps.ts bench` does), binds only
 * 127.0.0.1, and stops every process it started, on failure and Ctrl-C too.
 *
 * ```sh
 * deno task bench
 * deno run --unstable-net --unstable-no-legacy-abort --allow-all bench/run.ts \
 *   --duration 2 --rounds 1 --only proxy-small-64,static
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type BenchEnv, privateRuntimeCopy, startBackend } from "./lib/contenders.ts";
import { canPin, cpuPlan } from "./lib/cpu_pinning.ts";
import { ProcessGroup } from "./lib/processes.ts";
import { formatReport, type ScenarioResult } from "./lib/report.ts";
import { type RunSettings, type Scenario, SCENARIOS } from "./lib/scenarios.ts";
import { checkTargets, formatTargets } from "./lib/targets.ts";
import type { TlsFiles } from "./lib/configs.ts";
import { onPath } from "../tools/ensure_deps.ts";
import { makeSelfSignedCert } from "../tools/self_signed_cert.ts";

const HELP = `Usage: deno task bench [options]

Options:
  --duration SECONDS   seconds per measured run, "5" or "5s" (default 5)
  --rounds N           measured runs per contender, interleaved A/B/A/B (default 2)
  --warmup SECONDS     unmeasured load right before each measured run (default 1;
                       0: none, so each run starts after the others' rounds)
  --only A,B           run only these scenarios
  --workers N          also measure our node with --workers N, free to use every
                       CPU and held to the proxy's (default 2; 0: no); HTTP/1.1
                       scenarios also measure it with --http1-server deno
  --idle-connections N connections of the idle scenario (default 10000)
  --out FILE           JSON results (default bench/results/latest.json)
  -h, --help           this help

Scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`;

/** Parsed command line. */
interface Options {
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  only: Scenario[];
  workers: number;
  idleConnections: number;
  out: string;
}

function positiveInt(flag: string, text: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`Cannot use --${flag} "${text}": must be an integer >= ${min}`);
  }
  return value;
}

function parseOptions(args: string[], repoRoot: string): Options | undefined {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "5" },
      rounds: { type: "string", default: "2" },
      warmup: { type: "string", default: "1" },
      only: { type: "string" },
      workers: { type: "string", default: "2" },
      "idle-connections": { type: "string", default: "10000" },
      out: { type: "string", default: `${repoRoot}/bench/results/latest.json` },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  let only = [...SCENARIOS];
  if (values.only) {
    only = values.only.split(",").map((name) => {
      const scenario = SCENARIOS.find((s) => s.name === name.trim());
      if (!scenario) {
        throw new TypeError(
          `Cannot use --only "${name}": no such scenario (${
            SCENARIOS.map((s) => s.name).join(", ")
          })`,
        );
      }
      return scenario;
    });
  }
  return {
    seconds: positiveInt("duration", values.duration.replace(/s$/, "")),
    rounds: positiveInt("rounds", values.rounds),
    warmupSeconds: positiveInt("warmup", values.warmup.replace(/s$/, ""), 0),
    only,
    workers: positiveInt("workers", values.workers, 0),
    idleConnections: positiveInt("idle-connections", values["idle-connections"]),
    out: values.out,
  };
}

/** First line a program prints about its version, or "unknown". */
async function version(program: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0] || "unknown";
  } catch {
    return "unknown";
  }
}

/** A self-signed certificate for 127.0.0.1 in `dir`, or undefined without openssl. */
async function makeTls(dir: string): Promise<(TlsFiles & { certPem: string }) | undefined> {
  if (!onPath("openssl")) return undefined;
  const { cert, key, certFile, keyFile } = await makeSelfSignedCert({
    ipAddresses: ["127.0.0.1"],
    dir,
  });
  const combinedFile = `${dir}/combined.pem`;
  await Deno.writeTextFile(combinedFile, cert + key);
  return { certFile, keyFile, combinedFile, certPem: cert };
}

async function main(): Promise<number> {
  const repoRoot = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  let options: Options | undefined;
  try {
    options = parseOptions(Deno.args, repoRoot);
  } catch (error) {
    console.error(`Error: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    return 2;
  }
  if (!options) return 0;
  const missing = ["nginx", "haproxy", "wrk", "h2load"].filter((p) => !onPath(p));
  if (missing.length) {
    console.error(
      `Error: missing ${missing.join(", ")}: run "deno task bench", which installs them`,
    );
    return 1;
  }

  const group = new ProcessGroup();
  const dir = await Deno.makeTempDir({ prefix: "eg-bench-" });
  let failed = false;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    cleaned ??= group.stopAll().finally(() => {
      if (!failed) return Deno.removeSync(dir, { recursive: true });
      // The logs stay for a look; the runtime's copy (about 100 MB) does not.
      try {
        Deno.removeSync(`${dir}/deno`);
      } catch {
        // Not made: the run failed before.
      }
      console.error(`logs kept in ${dir}`);
    });
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error("\ninterrupted: stopping everything started");
    cleanup().finally(() => Deno.exit(130));
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);

  const log = (line: string) => console.error(line);
  const results: ScenarioResult[] = [];
  try {
    const cpus = await canPin() ? cpuPlan(navigator.hardwareConcurrency) : null;
    log(
      cpus === null
        ? "running unpinned (one CPU, or no taskset)"
        : `proxies under test on CPU ${cpus.proxy}; load generators and backend on CPU ${cpus.tools}`,
    );
    const backend = await startBackend(group, dir, cpus?.tools);
    const env: BenchEnv = {
      group,
      dir,
      repoRoot,
      nodeExecutable: privateRuntimeCopy(dir),
      backendPort: backend.port,
      cpus,
    };
    if (options.only.some((s) => s.name.startsWith("h2-"))) env.tls = await makeTls(dir);
    const settings: RunSettings = {
      seconds: options.seconds,
      rounds: options.rounds,
      warmupSeconds: options.warmupSeconds,
      workers: options.workers,
      idleConnections: options.idleConnections,
      log,
      stopping: () => interrupted,
    };
    for (const scenario of options.only) {
      log(`== ${scenario.name}`);
      try {
        const result = await scenario.run(env, settings);
        if (result.contenders?.some((c) => c.error)) failed = true;
        results.push(result);
      } catch (error) {
        if (interrupted) break;
        failed = true;
        const message = error instanceof Error ? error.message : String(error);
        log(`${scenario.name} failed: ${message}`);
        results.push({
          name: scenario.name,
          description: scenario.description,
          load: "",
          notes: [],
          error: message,
        });
      }
    }

    if (interrupted) {
      await cleanup();
      return 130;
    }
    console.log(formatReport(results));
    const targets = checkTargets(results);
    console.log(`\n${formatTargets(targets)}`);
    const output = {
      date: new Date().toISOString(),
      machine: { cpus: navigator.hardwareConcurrency, os: Deno.osRelease() },
      versions: {
        deno: Deno.version.deno,
        nginx: await version("nginx", ["-v"]),
        haproxy: await version("haproxy", ["-v"]),
        wrk: await version("wrk", ["-v"]),
        h2load: await version("h2load", ["--version"]),
      },
      settings: {
        durationSeconds: options.seconds,
        rounds: options.rounds,
        warmupSeconds: options.warmupSeconds,
        workers: options.workers,
        idleConnections: options.idleConnections,
      },
      scenarios: results,
      targets,
    };
    await Deno.mkdir(options.out.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(options.out, JSON.stringify(output, null, 2) + "\n");
    log(`\nresults written to ${options.out}`);
  } catch (error) {
    failed = true;
    console.error(`Error: ${error instanceof Error ? error.message : error}`);
  } finally {
    await cleanup();
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
