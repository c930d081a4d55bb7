/**
 * The `easegress` executable: `serve` runs a node, `ctl` is the admin client.
 *
 * @module
 */

import { optionsDocument, OptionsError, parseServeArgs, serveHelp } from "./server/options.ts";
import { loadYaml } from "./filters/yaml_module.ts";
import { VERSION } from "./server/version.ts";

const USAGE = `Usage: easegress <command> [options]

Commands:
  serve    run a node (easegress serve --help)
  ctl      talk to a node's admin API (easegress ctl --help)

Options:
  -h, --help       this help
  -v, --version    version`;

/** A stop signal this soon after the first is the same one delivered twice. */
const DUPLICATE_SIGNAL_MS = 500;

/**
 * What a node reads, writes, listens on, runs (the etcd binary) and asks the
 * system (host name, cores): what `--allow-all` grants beyond the optional FFI.
 */
const SERVE_PERMISSIONS = ["env", "read", "write", "net", "run", "sys"] as const;

/**
 * The `--allow-*` flags of {@linkcode SERVE_PERMISSIONS} not granted. Asked
 * up front: without one, the node stopped at its first read of the
 * environment with an uncaught error (or, on a terminal, at a prompt for
 * each), or later, part-started, at its first file or listener.
 */
function missingServePermissions(): string[] {
  return SERVE_PERMISSIONS.filter((name) =>
    Deno.permissions.querySync({ name }).state !== "granted"
  )
    .map((name) => `--allow-${name}`);
}

/**
 * Whether this process started with SIGHUP ignored (`nohup`), as Linux's
 * /proc/self/status tells until the runtime's first signal listener, which
 * also catches SIGHUP: from then on a SIGHUP no listener takes ends the
 * process at once, nohup or not.
 */
function startedIgnoringHangup(): boolean {
  try {
    const ignored = /^SigIgn:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
    // The mask's lowest bit is signal 1, SIGHUP.
    return ignored !== null && (parseInt(ignored[1].slice(-1), 16) & 1) === 1;
  } catch {
    return false; // Not Linux: taken as a hangup to stop on, which beats ending at once.
  }
}

/** Runs the `serve` subcommand until SIGINT, SIGTERM or SIGHUP; returns the exit code. */
async function serve(args: string[]): Promise<number> {
  const missing = missingServePermissions();
  if (missing.length > 0) {
    console.error(
      `Error: serve needs Deno's --allow-all (${missing.join(", ")} not given): run it as ` +
        "`deno task serve`, or pass the flags the README's Running a node lists",
    );
    return 2;
  }
  // Before any signal listener: the runtime's first one changes what this reads.
  const hangupIgnored = startedIgnoringHangup();
  let command;
  try {
    command = await parseServeArgs(args);
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    console.error(`Error: ${e.message}`);
    return 2;
  }
  if (command.action === "help") {
    console.log(serveHelp());
    return 0;
  }
  if (command.action === "version") {
    console.log(`easegress ${VERSION}`);
    return 0;
  }
  for (const warning of command.warnings) console.error(`Warning: ${warning}`);
  // Without it the runtime ends the whole process (exit 70) at the first
  // listener shared by the workers, or the first HTTP/3 or MQTT socket.
  if (typeof Deno.listenDatagram !== "function") {
    console.error(
      "Error: serve needs Deno's --unstable-net (and --unstable-no-legacy-abort): run it as " +
        "`deno task serve`, or pass the flags the README's Running a node lists",
    );
    return 2;
  }
  if (command.printConfig) {
    const { stringify } = await loadYaml();
    console.log(stringify(optionsDocument(command.options)).trimEnd());
  }
  let node;
  try {
    // Loaded here so that `ctl` does not pay for the server's modules.
    const { startNode } = await import("./server/node.ts");
    node = await startNode(command.options, { survivesUncaught: true });
  } catch (e) {
    console.error(`Error: ${(e as Error).message}`);
    return 1;
  }
  const { promise: stopped, resolve: stop } = Promise.withResolvers<void>();
  let firstSignalAt = -1;
  const onSignal = () => {
    const now = performance.now();
    if (firstSignalAt < 0) {
      firstSignalAt = now;
      return stop();
    }
    // A second signal gives up on the graceful stop, like Easegress; but not one
    // within moments of the first: Ctrl-C reaches a launcher (npx, deno task) and
    // the node together, and the launcher passes it on.
    if (now - firstSignalAt >= DUPLICATE_SIGNAL_MS) Deno.exit(255);
  };
  // A terminal closing on the node stops it as SIGTERM does, in-flight requests
  // finishing; under nohup it is ignored as asked. Without a listener either
  // would end the process at once, leaving easegress.pid behind.
  const onHangup = hangupIgnored ? () => {} : onSignal;
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGHUP", onHangup);
  await stopped;
  await node.close();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.removeSignalListener("SIGHUP", onHangup);
  return 0;
}

/** Dispatches a command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "serve":
      return await serve(rest);
    case "ctl": {
      const { runCtl } = await import("./cli/ctl.ts");
      return await runCtl(rest);
    }
    case "-v":
    case "--version":
      console.log(`easegress ${VERSION}`);
      return 0;
    case undefined:
    case "-h":
    case "--help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`Error: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/** Set by the `serve` and `ctl` tasks to the directory `deno task` was run from. */
const TASK_CWD_VAR = "EASEGRESS_TASK_CWD";

/**
 * `deno task` runs its commands in the project's directory, but paths on the
 * command line (`-f FILE`, `--home-dir`, ...) are meant from where the user
 * ran the task: go there first.
 */
function enterTaskDirectory(): void {
  // Not readable without --allow-env: then no task set it (both tasks grant it).
  const readable = Deno.permissions.querySync({ name: "env", variable: TASK_CWD_VAR });
  if (readable.state !== "granted") return;
  const dir = Deno.env.get(TASK_CWD_VAR);
  if (!dir) return;
  Deno.env.delete(TASK_CWD_VAR);
  try {
    Deno.chdir(dir);
  } catch (e) {
    console.error(
      `Warning: staying in ${Deno.cwd()}: cannot enter ${dir}: ${(e as Error).message}`,
    );
  }
}

if (import.meta.main) {
  enterTaskDirectory();
  Deno.exit(await main(Deno.args));
}
