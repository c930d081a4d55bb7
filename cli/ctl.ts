/**
 * `easegress ctl`: the egctl-compatible command line client of the admin API.
 *
 * ```ts
 * const code = await runCtl(["object", "get", "server-demo", "-o", "json"]);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AdminClient, DEFAULT_SERVER, normalizeServer, type OutputFormat } from "./client.ts";
import { commandWords, formatHelp, resolveCommand } from "./command_tree.ts";
import { type CommandContext, CTL_COMMANDS, type CtlCommand } from "./commands.ts";
import { CtlError, fileErrorReason, UsageError } from "./errors.ts";
import { type EditorRunner, runUserEditor } from "./edit_command.ts";
import {
  connectionFetch,
  defaultEgctlConfigPath,
  readEgctlConfig,
  usesTls,
} from "./egctl_config.ts";
import { OUTPUT_FORMATS } from "./output.ts";
import { attachDashedValues, expandShortEquals, firstPositional } from "./short_flags.ts";
import { writerTo } from "./writer.ts";

/** Where `runCtl` reads and writes; every field defaults to the process's own. */
export interface CtlIO {
  /** Input for create/update/apply without `-f`. @default {Deno.stdin.readable} */
  stdin?: ReadableStream<Uint8Array>;
  /** Receives normal output. @default {writes to Deno.stdout} */
  stdout?: (s: string) => void;
  /** Receives error output. @default {writes to Deno.stderr} */
  stderr?: (s: string) => void;
  /** Sends admin API requests. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** Opens a file for `edit`. @default {$EGCTL_EDITOR, $EDITOR or vi} */
  editor?: EditorRunner;
  /** egctl's config file: server, CA, basic auth, client certificate. @default {~/.egctlrc} */
  egctlConfig?: string;
}

/** How the program is named in help and hints. */
const PROGRAM = "easegress ctl";

/** The flags every command takes; `-f` is listed only where it is taken (`logs -f` follows). */
function globalFlags(listFile: boolean): string {
  return `Flags:
  --server HOST:PORT   admin API address, http:// or https:// allowed (default: the
                       server of ~/.egctlrc's current context, else ${DEFAULT_SERVER})
  -o, --output FORMAT  output format: yaml (default) or json
${
    listFile
      ? '  -f, --file FILE      YAML input for create, update and apply ("-" = stdin)\n'
      : ""
  }  -h, --help           help for any command
  Flags of some commands only are in their usage lines (--all, --port, --rule, ...).`;
}

// Value flags are read as lists: a repeated one counts with its last value, as egctl's flags do
// (so `alias egctl='egctl --server X'` can still be given another --server).
const FLAG_OPTIONS = {
  server: { type: "string", multiple: true },
  output: { type: "string", short: "o", multiple: true },
  file: { type: "string", short: "f", multiple: true },
  help: { type: "boolean", short: "h" },
  // Flags of some commands only (their ownFlags).
  all: { type: "boolean" },
  port: { type: "string", multiple: true },
  rule: { type: "string", multiple: true },
  tls: { type: "boolean" },
  "auto-cert": { type: "boolean" },
  "ca-cert-file": { type: "string", multiple: true },
  "cert-file": { type: "string", multiple: true },
  "key-file": { type: "string", multiple: true },
  tail: { type: "string", multiple: true },
  follow: { type: "boolean" },
} as const;

const OWN_FLAGS = [
  "all",
  "port",
  "rule",
  "tls",
  "auto-cert",
  "ca-cert-file",
  "cert-file",
  "key-file",
  "tail",
  "follow",
] as const;

/**
 * Runs one `ctl` command line (the words after `ctl`) and returns the exit
 * code: 0 on success, 1 on any error (a usage error too, as egctl exits).
 */
export async function runCtl(args: string[], io: CtlIO = {}): Promise<number> {
  const stdout = io.stdout ?? writerTo(Deno.stdout, "standard output");
  const stderr = io.stderr ?? writerTo(Deno.stderr, "standard error", true);
  try {
    await runParsed(args, io, stdout);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      const helpCommand = [PROGRAM, ...error.command, "--help"].join(" ");
      stderr(`Error: ${error.message}\nRun '${helpCommand}' for usage.\n`);
      return 1;
    }
    if (error instanceof CtlError) {
      stderr([`Error: ${error.message}`, ...error.details.map((d) => `  ${d}`)].join("\n") + "\n");
      return 1;
    }
    // Run without a permission it needs (by hand, not through the task): Deno's
    // message names the flag to add; it is no bug of ctl's.
    if (error instanceof Deno.errors.NotCapable) {
      stderr(`Error: ${error.message}\n`);
      return 1;
    }
    // A bug in ctl itself: say so plainly rather than dumping a trace on users.
    stderr(`Error: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 1;
  }
}

async function runParsed(
  args: string[],
  io: CtlIO,
  stdout: (s: string) => void,
): Promise<void> {
  const { values: lists, positionals } = parseFlags(args);
  const flags = {
    help: lists.help,
    server: lists.server?.at(-1),
    output: lists.output?.at(-1),
    file: lists.file?.at(-1),
  };
  // "help [command]" as egctl (cobra) takes it, alongside --help.
  const helpWord = positionals[0] === "help";
  const { chain, rest } = resolveCommand(
    CTL_COMMANDS,
    helpWord ? positionals.slice(1) : positionals,
  );
  const command = chain[chain.length - 1];
  const words = commandWords(chain);
  // A bare "ctl" prints the help and succeeds, as egctl (cobra) does.
  if (flags.help || helpWord || positionals.length === 0) {
    const listFile = command.subcommands !== undefined || command.readsDocuments === true;
    stdout(formatHelp(chain, { program: PROGRAM, flags: globalFlags(listFile) }));
    return;
  }
  if (!command.run) {
    const choices = (command.subcommands ?? []).map((c) => c.name).join(", ");
    const what = words.length ? `"${words.join(" ")}" needs a command` : "missing command";
    throw new UsageError(`${what}: ${choices}`, words);
  }
  const commandArgs = checkArgs(command, rest, words);
  if (flags.file === "") throw new UsageError("-f/--file must not be empty", words);
  if (flags.file !== undefined && !command.readsDocuments) {
    throw new UsageError(`-f/--file is not used by "${words.join(" ")}"`, words);
  }
  for (const flag of OWN_FLAGS) {
    const taken = command.ownFlags?.some((usage) => usage.split(" ")[0].endsWith(`--${flag}`));
    if (lists[flag] !== undefined && !taken) {
      throw new UsageError(`--${flag} is not used by "${words.join(" ")}"`, words);
    }
  }
  const format = parseFormat(flags.output ?? "yaml", words);
  const configPath = io.egctlConfig ?? defaultEgctlConfigPath();
  const connection = await readEgctlConfig(configPath);
  const server = flags.server ?? connection.server ?? DEFAULT_SERVER;
  const what = flags.server === undefined && connection.server !== undefined
    ? `${configPath}: server`
    : "--server";
  // A server without a scheme is reached over HTTPS when the config gives a CA or a certificate.
  const origin = normalizeServerFor(server, usesTls(connection) ? "https" : "http", what, words);
  let connectedFetch: typeof fetch;
  try {
    connectedFetch = connectionFetch(connection, io.fetch ?? globalThis.fetch);
  } catch (e) {
    // Read whole but refused by the TLS library (an X.509 v1 certificate, a key
    // that is not the certificate's): a mistake in the file, not a bug of ctl's.
    throw new CtlError(
      `${configPath ?? "~/.egctlrc"}: its certificates are refused by the TLS library: ${
        (e as Error).message
      }`,
    );
  }
  const context: CommandContext = {
    client: new AdminClient(origin, { fetch: connectedFetch, format }),
    format,
    formatGiven: flags.output !== undefined,
    own: {
      all: lists.all === true,
      port: lists.port?.at(-1),
      rule: lists.rule ?? [],
      tls: lists.tls === true,
      autoCert: lists["auto-cert"] === true,
      caCertFile: lists["ca-cert-file"]?.at(-1),
      certFile: lists["cert-file"] ?? [],
      keyFile: lists["key-file"] ?? [],
      tail: lists.tail?.at(-1),
      follow: lists.follow === true,
    },
    args: commandArgs,
    readInput: () => readInput(flags.file, io.stdin, words),
    print: stdout,
    runEditor: io.editor ?? runUserEditor,
  };
  try {
    await command.run(context);
  } catch (error) {
    // A command refusing one of its arguments: point the hint at its help.
    if (error instanceof UsageError && error.command.length === 0) {
      throw new UsageError(error.message, words);
    }
    throw error;
  }
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args: attachDashedValues(followForLogs(expandShortEquals(args, FLAG_OPTIONS)), FLAG_OPTIONS),
      options: FLAG_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // node:util goes on about "--" escapes; its first sentence says what was wrong.
    const message = String((error as Error).message).split("\n")[0];
    throw new UsageError(message.split(". To specify")[0]);
  }
}

/**
 * `-f` as egctl's `logs` takes it, `--follow`; everywhere else it names a file.
 * Before the flags are parsed, so `logs -f` is not read as a file missing its name.
 */
function followForLogs(args: string[]): string[] {
  if (firstPositional(args, FLAG_OPTIONS) !== "logs") return args;
  return args.map((arg) => arg === "-f" ? "--follow" : arg);
}

function checkArgs(command: CtlCommand, rest: readonly string[], words: string[]): string[] {
  const expected = command.args ?? [];
  const optional = command.optionalArgs ?? [];
  const where = `"${words.join(" ")}"`;
  if (rest.length < expected.length) {
    throw new UsageError(`missing ${expected.slice(rest.length).join(" ")} for ${where}`, words);
  }
  const repeats = optional.at(-1)?.endsWith("...") ?? false;
  const most = expected.length + optional.length;
  if (rest.length > most && !repeats) {
    throw new UsageError(`unexpected argument "${rest[most]}" for ${where}`, words);
  }
  rest.forEach((value, i) => {
    const name = [...expected, ...optional][Math.min(i, most - 1)].replace(/\.\.\.$/, "");
    if (value.trim() === "") throw new UsageError(`${name} must not be empty`, words);
  });
  return [...rest];
}

function parseFormat(value: string, words: string[]): OutputFormat {
  const format = OUTPUT_FORMATS.find((f) => f === value);
  if (!format) {
    throw new UsageError(
      `unknown output format "${value}": use ${OUTPUT_FORMATS.join(" or ")}`,
      words,
    );
  }
  return format;
}

function normalizeServerFor(
  server: string,
  scheme: "http" | "https",
  what: string,
  words: string[],
): string {
  try {
    return normalizeServer(server, scheme, what);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message, words);
    throw error;
  }
}

/** Reads `-f FILE`, or stdin when there is no file or it is `-`. */
async function readInput(
  file: string | undefined,
  stdin: ReadableStream<Uint8Array> | undefined,
  words: string[],
): Promise<{ text: string; source: string }> {
  if (file !== undefined && file !== "-") {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      throw new CtlError(`cannot read ${file}: ${fileErrorReason(error)}`);
    }
    return { text: utf8Text(bytes, file), source: file };
  }
  if (!stdin) {
    // Waiting silently on a terminal looks like a hang; say what is expected instead.
    if (Deno.stdin.isTerminal()) {
      throw new UsageError("no input: pass -f FILE or pipe YAML documents to stdin", words);
    }
    stdin = Deno.stdin.readable;
  }
  return { text: utf8Text(await new Response(stdin).bytes(), "stdin"), source: "stdin" };
}

/**
 * `bytes` as UTF-8 text. Other encodings are refused, as egctl's YAML reader
 * refuses them: read leniently, a Latin-1 "café" would be stored as "caf\uFFFD".
 */
function utf8Text(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CtlError(`cannot read ${source}: it is not UTF-8 text`);
  }
}
