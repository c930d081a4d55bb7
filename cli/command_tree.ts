/**
 * A tree of commands with egctl-style name matching (exact name or alias
 * first, then any unique prefix of a name or alias) and help text rendered
 * from the hand-written summaries in the tree.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** One command or command group; `A` is what a runnable command carries. */
export interface CommandSpec<A> {
  /** The word that selects this command. */
  readonly name: string;
  /** Other words that select it. */
  readonly aliases?: readonly string[];
  /** One line saying what the command does. */
  readonly summary: string;
  /** Further help paragraphs shown by `--help`. */
  readonly description?: string;
  /** Names of required positional arguments, e.g. `["NAME"]`. */
  readonly args?: readonly string[];
  /** Names of optional arguments after those; a last one ending in "..." may repeat. */
  readonly optionalArgs?: readonly string[];
  /** Flags of its own, as its usage line shows them: `["--all"]`, `["--port PORT"]`. */
  readonly ownFlags?: readonly string[];
  /** Whether the command reads YAML documents (`-f FILE` or stdin). */
  readonly readsDocuments?: boolean;
  /** Child commands; a group has these and no `run`. */
  readonly subcommands?: readonly CommandSpec<A>[];
  /** What a runnable command does. */
  readonly run?: A;
}

/** The commands chosen by the leading words of a command line. */
export interface ResolvedCommand<A> {
  /** From the root to the chosen command. */
  readonly chain: readonly CommandSpec<A>[];
  /** Words left after the chosen command: its arguments. */
  readonly rest: readonly string[];
}

/**
 * Walks `words` down from `root` while the current command has subcommands.
 * Throws {@linkcode UsageError} for an unknown or ambiguous command word.
 */
export function resolveCommand<A>(
  root: CommandSpec<A>,
  words: readonly string[],
): ResolvedCommand<A> {
  const chain: CommandSpec<A>[] = [root];
  let used = 0;
  for (const word of words) {
    const current = chain[chain.length - 1];
    if (!current.subcommands) break;
    chain.push(findSubcommand(current, word, commandWords(chain)));
    used++;
  }
  return { chain, rest: words.slice(used) };
}

/** The words naming a command chain, without the root: `["object", "get"]`. */
export function commandWords<A>(chain: readonly CommandSpec<A>[]): string[] {
  return chain.slice(1).map((c) => c.name);
}

/** Help text for the last command of `chain`; `program` is the root's invocation. */
export function formatHelp<A>(
  chain: readonly CommandSpec<A>[],
  options: { program: string; flags: string },
): string {
  const command = chain[chain.length - 1];
  const invocation = [options.program, ...commandWords(chain)].join(" ");
  const lines = [command.summary, "", "Usage:"];
  if (command.subcommands) {
    lines.push(`  ${invocation} <command> [flags]`);
  } else {
    lines.push(`  ${[invocation, ...usageArgs(command)].join(" ")} [flags]`);
  }
  if (command.aliases?.length) {
    lines.push("", `Aliases: ${[command.name, ...command.aliases].join(", ")}`);
  }
  if (command.description) lines.push("", command.description);
  if (command.subcommands) {
    const rows = leafRows(command, []);
    const width = Math.max(...rows.map(([usage]) => usage.length));
    lines.push("", "Commands:");
    for (const [usage, summary] of rows) lines.push(`  ${usage.padEnd(width)}  ${summary}`);
  }
  lines.push("", options.flags);
  return `${lines.join("\n").trimEnd()}\n`;
}

/**
 * Argument words for a usage line: `NAME`, or `[-f FILE]` for document
 * readers; the command's own flags too unless `ownFlags` is false (a group's
 * table of commands, whose column they would widen past the terminal).
 */
function usageArgs<A>(command: CommandSpec<A>, ownFlags = true): string[] {
  const words = [...(command.args ?? []), ...(command.optionalArgs ?? []).map((a) => `[${a}]`)];
  if (ownFlags) words.push(...(command.ownFlags ?? []).map((flag) => `[${flag}]`));
  if (command.readsDocuments) words.push("[-f FILE]");
  return words;
}

/** `[usage, summary]` for every runnable command below `group`, in tree order. */
function leafRows<A>(group: CommandSpec<A>, prefix: readonly string[]): [string, string][] {
  const rows: [string, string][] = [];
  for (const child of group.subcommands ?? []) {
    const words = [...prefix, child.name];
    if (child.subcommands) rows.push(...leafRows(child, words));
    else rows.push([[...words, ...usageArgs(child, false)].join(" "), child.summary]);
  }
  return rows;
}

function findSubcommand<A>(
  parent: CommandSpec<A>,
  word: string,
  parentWords: readonly string[],
): CommandSpec<A> {
  const children = parent.subcommands ?? [];
  const names = (c: CommandSpec<A>) => [c.name, ...(c.aliases ?? [])];
  const exact = children.find((c) => names(c).includes(word));
  if (exact) return exact;
  const matches = word === ""
    ? []
    : children.filter((c) => names(c).some((n) => n.startsWith(word)));
  if (matches.length === 1) return matches[0];
  const where = parentWords.length ? ` for "${parentWords.join(" ")}"` : "";
  if (matches.length > 1) {
    throw new UsageError(
      `ambiguous command "${word}"${where}: could be ${matches.map((c) => c.name).join(", ")}`,
      parentWords,
    );
  }
  throw new UsageError(
    `unknown command "${word}"${where}; commands: ${children.map((c) => c.name).join(", ")}`,
    parentWords,
  );
}
