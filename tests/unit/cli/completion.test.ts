import assert from "node:assert/strict";
import { completionScript } from "../../../cli/completion.ts";
import { CTL_COMMANDS } from "../../../cli/commands.ts";

/** What bash completes for the command line `line` (the cursor at its end). */
async function complete(line: string, shell: "bash" | "zsh" = "bash"): Promise<string[]> {
  const script = completionScript(shell, CTL_COMMANDS);
  const words = line.split(" ");
  const program = `${
    shell === "zsh" ? "complete() { :; }; autoload() { :; }; bashcompinit() { :; }\n" : ""
  }${script}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_easegress_ctl
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = await new Deno.Command("bash", { args: ["-c", program], stdout: "piped" }).output();
  assert.equal(out.code, 0);
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
}

Deno.test("completion: commands, aliases and flags complete from the command tree", async () => {
  assert.deepEqual(await complete("easegress c"), ["ctl"]);
  assert.deepEqual(await complete("easegress ctl o"), ["object"]);
  assert.deepEqual(await complete("easegress ctl obj st"), ["status"]);
  assert.deepEqual(await complete("easegress ctl --server h:1 o stat "), ["get", "list"]);
  assert.deepEqual(await complete("easegress ctl profile start "), ["cpu", "memory"]);
  assert.deepEqual(await complete("easegress ctl wasm "), [
    "reload-code",
    "list-data",
    "apply-data",
    "delete-data",
  ]);
  assert.deepEqual(await complete("easegress ctl completion "), ["bash", "zsh"]);
  assert.deepEqual(await complete("easegress ctl -o json --ou"), ["--output"]);
  assert.deepEqual(await complete("easegress ctl object get "), []);
  // zsh loads the same function through its bash compatibility.
  assert.deepEqual(await complete("easegress ctl cust", "zsh"), [
    "custom-data-kind",
    "custom-data",
  ]);
  assert.deepEqual(await complete("easegress ctl cdk "), [
    "list",
    "get",
    "create",
    "update",
    "delete",
  ]);
});

Deno.test("completion: a flag's value is not completed as a command", async () => {
  assert.deepEqual(await complete("easegress ctl -o "), ["yaml", "json"]);
  assert.deepEqual(await complete("easegress ctl object list --output j"), ["json"]);
  assert.deepEqual(await complete("easegress ctl --server "), []);
  assert.deepEqual(await complete("easegress ctl object create -f /dev/nul"), ["/dev/null"]);
  assert.deepEqual(await complete("easegress ctl -o json o"), ["object"]);
});
