/**
 * The `ctl` command tree: each runnable command is one admin API call (or,
 * for create/update/apply, one call per YAML document).
 *
 * @module
 */

import type { AdminClient, OutputFormat } from "./client.ts";
import type { CommandSpec } from "./command_tree.ts";
import {
  type ObjectDocument,
  parseDataDocuments,
  parseObjectDocuments,
  stoppedAtLines,
} from "./documents.ts";
import { CtlError, UsageError } from "./errors.ts";
import { segment } from "./url_segment.ts";
import { type SendMode, sendSpec } from "./send_spec.ts";
import { renderBody } from "./output.ts";
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from "./completion.ts";
import { RESOURCE_COMMANDS } from "./resource_commands.ts";
import type { EditorRunner } from "./edit_command.ts";

/** Everything a command needs while it runs. */
export interface CommandContext {
  /** The admin API of the node being managed. */
  readonly client: AdminClient;
  /** How to print response bodies. */
  readonly format: OutputFormat;
  /** Whether `-o` was given, so commands that print tables print data instead. */
  readonly formatGiven: boolean;
  /** The flags only some commands take (each checked against the command's `ownFlags`). */
  readonly own: OwnFlags;
  /** The command's positional arguments, already checked against its `args`. */
  readonly args: readonly string[];
  /** Reads the YAML input (`-f FILE` or stdin); `source` names it in messages. */
  readInput(): Promise<{ text: string; source: string }>;
  /** Writes to standard output. */
  print(text: string): void;
  /** Opens a file in the user's editor (`edit`). */
  runEditor: EditorRunner;
}

/** The values of the flags only some commands take. */
export interface OwnFlags {
  /** `--all`: every resource of a kind. */
  readonly all: boolean;
  /** `--port`, as given. */
  readonly port?: string;
  /** `--rule`, each time given. */
  readonly rule: readonly string[];
  /** `--tls`. */
  readonly tls: boolean;
  /** `--auto-cert`. */
  readonly autoCert: boolean;
  /** `--ca-cert-file`. */
  readonly caCertFile?: string;
  /** `--cert-file`, each time given. */
  readonly certFile: readonly string[];
  /** `--key-file`, each time given. */
  readonly keyFile: readonly string[];
  /** `--tail`, as given. */
  readonly tail?: string;
  /** `--follow` (`-f` for `logs`). */
  readonly follow: boolean;
}

/** What a runnable command does. */
export type CommandAction = (ctx: CommandContext) => Promise<void>;

/** A command of the `ctl` tree. */
export type CtlCommand = CommandSpec<CommandAction>;

const objectPath = (name: string) => `/objects/${segment(name)}`;

/** A command that GETs `path(args)` and prints the body, which is `prose` rather than data. */
function show(path: (args: readonly string[]) => string, prose = false): CommandAction {
  return async function showReply(ctx) {
    const reply = await ctx.client.call({ method: "GET", path: path(ctx.args) });
    ctx.print(renderBody(reply.body, ctx.format, prose));
  };
}

/** A command that sends a body-less request and prints `done(args)` on success. */
function act(
  method: "DELETE",
  path: (args: readonly string[]) => string,
  done: (args: readonly string[]) => string,
): CommandAction {
  return async function actAndReport(ctx) {
    await ctx.client.call({ method, path: path(ctx.args) });
    ctx.print(`${done(ctx.args)}\n`);
  };
}

/** create/update/apply: validate every document, then send them in order, stopping at a failure. */
function sendDocuments(mode: SendMode): CommandAction {
  return async function sendAll(ctx) {
    const { text, source } = await ctx.readInput();
    const documents = parseObjectDocuments(text, source);
    for (const [position, doc] of documents.entries()) {
      let outcome: string;
      try {
        outcome = await sendDocument(ctx.client, mode, doc);
      } catch (error) {
        if (!(error instanceof CtlError) || documents.length === 1) throw error;
        throw new CtlError(error.message, [
          ...error.details,
          ...stoppedAtLines(
            documents.length,
            position,
            `${doc.index} (${doc.kind} "${doc.name}")`,
            doc.line,
          ),
        ]);
      }
      ctx.print(`Object ${doc.name} ${outcome}\n`);
    }
  };
}

/** Sends one document and returns what happened to it ("created" or "updated"). */
function sendDocument(
  client: AdminClient,
  mode: SendMode,
  doc: ObjectDocument,
): Promise<"created" | "updated"> {
  return sendSpec(client, mode, { update: objectPath(doc.name), create: "/objects" }, {
    yaml: doc.text,
  });
}

/**
 * A command that sends each YAML document of the input to `path(args)` in
 * order, as egctl does, printing `done(args)` for each and stopping at the
 * first the node refuses.
 */
function sendData(
  method: "POST" | "PUT",
  path: (args: readonly string[]) => string,
  done: (args: readonly string[]) => string,
): CommandAction {
  return async function sendDataDocuments(ctx) {
    const { text, source } = await ctx.readInput();
    const documents = parseDataDocuments(text, source);
    for (const [position, doc] of documents.entries()) {
      try {
        await ctx.client.call({ method, path: path(ctx.args), yaml: doc.text });
      } catch (error) {
        if (!(error instanceof CtlError) || documents.length === 1) throw error;
        throw new CtlError(error.message, [
          ...error.details,
          ...stoppedAtLines(documents.length, position, String(doc.index), doc.line),
        ]);
      }
      ctx.print(`${done(ctx.args)}\n`);
    }
  };
}

/** `profile start cpu|memory PATH`: the node profiles into PATH (on the node's machine). */
function startProfile(kind: "cpu" | "memory", what: string): CommandAction {
  return async function startProfiling(ctx) {
    const [path] = ctx.args;
    await ctx.client.call({ method: "POST", path: `/profile/start/${kind}`, json: { path } });
    ctx.print(`${what} started; "profile stop" writes it to ${path} on the node\n`);
  };
}

/** `profile stop`, telling which files were written. */
async function stopProfiles(ctx: CommandContext): Promise<void> {
  const info = await ctx.client.getData("/profile");
  await ctx.client.call({ method: "POST", path: "/profile/stop" });
  const { cpuPath, memoryPath } = (info ?? {}) as { cpuPath?: string; memoryPath?: string };
  const written = [cpuPath, memoryPath].filter(Boolean);
  ctx.print(
    written.length ? `Profiles written: ${written.join(", ")}\n` : "No profile was running\n",
  );
}

const wasmDataPath = ([pipeline, filter]: readonly string[]) =>
  `/wasm/data/${segment(pipeline)}/${segment(filter)}`;

const kindPath = (kind: string) => `/customdatakinds/${segment(kind)}`;
const itemsPath = (kind: string) => `/customdata/${segment(kind)}`;

const DATA_HELP = `Reads YAML from FILE, or from stdin when -f is absent or "-". Each document
(several may be separated by "---") is sent on its own, in order, stopping at
the first the node refuses.`;

const DOCUMENTS_HELP =
  `Reads YAML from FILE, or from stdin when -f is absent or "-". Several objects
may be given as documents separated by "---"; every document must be a map with
a string name and kind. Every document's YAML, name and kind are checked before
anything is sent; then they are sent one by one, stopping at the first the node
refuses (the ones before it stay applied).`;

/** The whole `ctl` command tree. */
export const CTL_COMMANDS: CtlCommand = {
  name: "ctl",
  summary: "Manage a running Easegress node through its admin API.",
  description: `Command names may be shortened to any unique prefix ("o get" = "object get").
"help COMMAND" shows the same help as "COMMAND --help".`,
  subcommands: [
    ...RESOURCE_COMMANDS,
    {
      name: "api",
      summary: "Admin API routes",
      subcommands: [{ name: "list", summary: "List the admin API routes", run: show(() => "") }],
    },
    {
      name: "health",
      summary: "Check that the admin API answers",
      run: async function checkHealth(ctx) {
        const reply = await ctx.client.call({ method: "GET", path: "/healthz" });
        ctx.print(renderBody(reply.body, ctx.format) || "OK\n");
      },
    },
    {
      name: "logs",
      summary: "Print the node's log (its last 500 lines unless --tail says)",
      description: `--tail N prints the last N lines (-1: all); -f/--follow goes on printing
what the node logs until interrupted.`,
      ownFlags: ["--tail N", "-f/--follow"],
      run: async function printLogs(ctx) {
        const tail = ctx.own.tail ?? "500";
        if (!/^-?\d+$/.test(tail) || Number(tail) < -1) {
          throw new UsageError(`--tail "${tail}" is not a number of lines (-1: all)`);
        }
        await ctx.client.stream(`/logs?tail=${tail}&follow=${ctx.own.follow}`, ctx.print);
      },
    },
    {
      name: "member",
      summary: "Cluster members",
      subcommands: [
        {
          name: "list",
          summary: "List the cluster members' status",
          run: show(() => "/status/members"),
        },
        {
          name: "purge",
          summary: "Remove a member that was uninstalled",
          description: "Run this after the member's node has been stopped for good.",
          args: ["NAME"],
          run: act(
            "DELETE",
            ([name]) => `/status/members/${segment(name)}`,
            ([name]) => `Member ${name} purged`,
          ),
        },
      ],
    },
    {
      name: "object",
      aliases: ["o", "obj"],
      summary: "Objects (HTTPServer, Pipeline, controllers, ...)",
      subcommands: [
        {
          name: "create",
          summary: "Create objects from YAML",
          description: DOCUMENTS_HELP,
          readsDocuments: true,
          run: sendDocuments("create"),
        },
        {
          name: "update",
          summary: "Update existing objects from YAML",
          description: DOCUMENTS_HELP,
          readsDocuments: true,
          run: sendDocuments("update"),
        },
        {
          name: "apply",
          summary: "Update objects from YAML, creating those that do not exist",
          description: DOCUMENTS_HELP,
          readsDocuments: true,
          run: sendDocuments("apply"),
        },
        {
          name: "get",
          summary: "Show one object's spec",
          args: ["NAME"],
          run: show(([name]) => objectPath(name)),
        },
        {
          name: "delete",
          summary: "Delete one object",
          args: ["NAME"],
          run: act("DELETE", ([name]) => objectPath(name), ([name]) => `Object ${name} deleted`),
        },
        { name: "list", summary: "List all objects' specs", run: show(() => "/objects") },
        { name: "kinds", summary: "List the object kinds", run: show(() => "/object-kinds") },
        {
          name: "status",
          aliases: ["stat"],
          summary: "Object status",
          subcommands: [
            {
              name: "get",
              summary: "Show one object's status on every member",
              args: ["NAME"],
              run: show(([name]) => `/status/objects/${segment(name)}`),
            },
            {
              name: "list",
              summary: "Show all objects' status",
              run: show(() => "/status/objects"),
            },
          ],
        },
      ],
    },
    {
      name: "custom-data-kind",
      aliases: ["cdk"],
      summary: "Custom data kinds (name, idField, jsonSchema)",
      subcommands: [
        { name: "list", summary: "List the kinds", run: show(() => "/customdatakinds") },
        { name: "get", summary: "Show one kind", args: ["KIND"], run: show(([k]) => kindPath(k)) },
        {
          name: "create",
          summary: "Create a kind from YAML",
          description: DATA_HELP,
          readsDocuments: true,
          run: sendData("POST", () => "/customdatakinds", () => "Custom data kind created"),
        },
        {
          name: "update",
          summary: "Update a kind from YAML",
          description: DATA_HELP,
          readsDocuments: true,
          run: sendData("PUT", () => "/customdatakinds", () => "Custom data kind updated"),
        },
        {
          name: "delete",
          summary: "Delete a kind and its items",
          args: ["KIND"],
          run: act("DELETE", ([k]) => kindPath(k), ([k]) => `Custom data kind ${k} deleted`),
        },
      ],
    },
    {
      name: "custom-data",
      aliases: ["cd"],
      summary: "Custom data items",
      subcommands: [
        {
          name: "list",
          summary: "List the items of a kind",
          args: ["KIND"],
          run: show(([k]) => itemsPath(k)),
        },
        {
          name: "get",
          summary: "Show one item",
          args: ["KIND", "ID"],
          run: show(([k, id]) => `${itemsPath(k)}/${segment(id)}`),
        },
        {
          name: "create",
          summary: "Create an item from YAML",
          description: DATA_HELP,
          args: ["KIND"],
          readsDocuments: true,
          run: sendData("POST", ([k]) => itemsPath(k), ([k]) => `Custom data of ${k} created`),
        },
        {
          name: "update",
          summary: "Update an item from YAML",
          description: DATA_HELP,
          args: ["KIND"],
          readsDocuments: true,
          run: sendData("PUT", ([k]) => itemsPath(k), ([k]) => `Custom data of ${k} updated`),
        },
        {
          name: "batch-update",
          summary: "Delete and write items in one call: {rebuild, delete: [ids], list: [items]}",
          description: DATA_HELP,
          args: ["KIND"],
          readsDocuments: true,
          run: sendData(
            "POST",
            ([k]) => `${itemsPath(k)}/items`,
            ([k]) => `Custom data of ${k} updated`,
          ),
        },
        {
          name: "delete",
          summary: "Delete one item",
          args: ["KIND", "ID"],
          run: act(
            "DELETE",
            ([k, id]) => `${itemsPath(k)}/${segment(id)}`,
            ([k, id]) => `Custom data ${id} of ${k} deleted`,
          ),
        },
      ],
    },
    {
      name: "filter",
      summary: "Pipeline filter kinds",
      subcommands: [
        {
          name: "list",
          summary: "List the filter kinds",
          run: show(() => "/metadata/objects/pipeline/filters"),
        },
        {
          name: "results",
          summary: "List the results a filter kind can return",
          args: ["KIND"],
          run: show(([kind]) => `/metadata/objects/pipeline/filters/${segment(kind)}/results`),
        },
        {
          name: "description",
          summary: "Describe a filter kind",
          args: ["KIND"],
          run: show(
            ([kind]) => `/metadata/objects/pipeline/filters/${segment(kind)}/description`,
            true,
          ),
        },
      ],
    },
    {
      name: "wasm",
      summary: "WasmHost code reloads and shared data",
      subcommands: [
        {
          name: "reload-code",
          summary: "Have every WasmHost filter load its code again",
          description:
            "Filters whose code changed start serving it; the others go on as they were.",
          run: async function reloadCode(ctx) {
            const reply = await ctx.client.call({ method: "POST", path: "/wasm/code" });
            ctx.print(renderBody(reply.body, ctx.format, true));
          },
        },
        {
          name: "list-data",
          summary: "Show a WasmHost filter's shared data",
          args: ["PIPELINE", "FILTER"],
          run: show(wasmDataPath),
        },
        {
          name: "apply-data",
          summary: "Set keys of a WasmHost filter's shared data from a YAML map",
          description: `${DATA_HELP} Keys not in the map keep their values.`,
          args: ["PIPELINE", "FILTER"],
          readsDocuments: true,
          run: sendData("PUT", wasmDataPath, ([p, f]) => `Data of ${p}/${f} applied`),
        },
        {
          name: "delete-data",
          summary: "Delete all of a WasmHost filter's shared data",
          args: ["PIPELINE", "FILTER"],
          run: act("DELETE", wasmDataPath, ([p, f]) => `Data of ${p}/${f} deleted`),
        },
      ],
    },
    {
      name: "profile",
      summary: "CPU and memory profiles of the node",
      description: `Profiles cover every isolate of the node (control plane and data-plane
workers), each under its own name, in one file per profile: CPU samples, or
sampled allocations still alive. Files are written in pprof's format (go tool
pprof), or in V8's JSON formats (Chrome DevTools) when PATH ends in .cpuprofile,
.heapprofile or .json. PATH is on the node's machine.`,
      subcommands: [
        {
          name: "info",
          summary: "Show the files being profiled into",
          run: show(() => "/profile"),
        },
        {
          name: "start",
          summary: "Start a profile",
          subcommands: [
            {
              name: "cpu",
              summary: "Start sampling the CPU, to be written to PATH",
              args: ["PATH"],
              run: startProfile("cpu", "CPU profile"),
            },
            {
              name: "memory",
              summary: "Start sampling memory, to be written to PATH",
              args: ["PATH"],
              run: startProfile("memory", "Memory profile"),
            },
          ],
        },
        {
          name: "stop",
          summary: "Stop the profiles and write them",
          run: stopProfiles,
        },
      ],
    },
    {
      name: "completion",
      summary: "Print a shell completion script (bash or zsh)",
      description: `Load it in the current shell with: source <(easegress ctl completion bash)`,
      args: ["SHELL"],
      run: function printCompletion(ctx) {
        const shell = COMPLETION_SHELLS.find((s) => s === ctx.args[0]);
        if (!shell) {
          throw new CtlError(
            `no completion for shell "${ctx.args[0]}": use ${COMPLETION_SHELLS.join(" or ")}`,
          );
        }
        ctx.print(completionScript(shell as CompletionShell, CTL_COMMANDS));
        return Promise.resolve();
      },
    },
  ],
};
