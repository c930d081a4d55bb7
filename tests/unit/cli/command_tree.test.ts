import assert from "node:assert/strict";
import { type CommandSpec, formatHelp, resolveCommand } from "../../../cli/command_tree.ts";
import { UsageError } from "../../../cli/errors.ts";

const TREE: CommandSpec<string> = {
  name: "tool",
  summary: "A tool.",
  subcommands: [
    {
      name: "object",
      aliases: ["o", "obj"],
      summary: "Objects",
      subcommands: [
        { name: "get", summary: "Get one", args: ["NAME"], run: "get" },
        { name: "gc", summary: "Collect", run: "gc" },
        { name: "create", summary: "Create", readsDocuments: true, run: "create" },
      ],
    },
    { name: "obituary", summary: "Not an object", run: "obituary" },
    { name: "health", summary: "Health", run: "health" },
  ],
};

const names = (words: string[]) => resolveCommand(TREE, words).chain.map((c) => c.name);

Deno.test("resolveCommand() prefers exact names and aliases over prefixes", () => {
  assert.deepEqual(names(["obituary"]), ["tool", "obituary"]);
  assert.deepEqual(names(["o", "get"]), ["tool", "object", "get"]);
  assert.deepEqual(names(["obj", "gc"]), ["tool", "object", "gc"]);
});

Deno.test("resolveCommand() accepts a unique prefix and leaves arguments", () => {
  const { chain, rest } = resolveCommand(TREE, ["h", "extra"]);
  assert.equal(chain[chain.length - 1].run, "health");
  assert.deepEqual(rest, ["extra"]);
  assert.deepEqual(resolveCommand(TREE, ["object", "cr", "x"]).rest, ["x"]);
  assert.deepEqual(names(["obi", "x"]), ["tool", "obituary"]);
});

Deno.test("resolveCommand() rejects ambiguous and unknown words", () => {
  assert.throws(
    () => resolveCommand(TREE, ["ob"]),
    (e: unknown) =>
      e instanceof UsageError && e.message === 'ambiguous command "ob": could be object, obituary',
  );
  assert.throws(
    () => resolveCommand(TREE, ["object", "g"]),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === 'ambiguous command "g" for "object": could be get, gc' &&
      e.command.join(" ") === "object",
  );
  assert.throws(
    () => resolveCommand(TREE, ["object", "zap"]),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === 'unknown command "zap" for "object"; commands: get, gc, create',
  );
});

Deno.test("formatHelp() lists a group's commands with their arguments", () => {
  const help = formatHelp(resolveCommand(TREE, ["o"]).chain, {
    program: "tool",
    flags: "Flags: -",
  });
  assert.equal(
    help,
    [
      "Objects",
      "",
      "Usage:",
      "  tool object <command> [flags]",
      "",
      "Aliases: object, o, obj",
      "",
      "Commands:",
      "  get NAME          Get one",
      "  gc                Collect",
      "  create [-f FILE]  Create",
      "",
      "Flags: -",
      "",
    ].join("\n"),
  );
});

Deno.test("formatHelp() shows a leaf command's usage line", () => {
  const chain = resolveCommand(TREE, ["object", "get"]).chain;
  assert.match(
    formatHelp(chain, { program: "tool", flags: "" }),
    /^Get one\n\nUsage:\n {2}tool object get NAME \[flags\]\n$/,
  );
});
