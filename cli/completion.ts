/**
 * Shell completion for `easegress ctl`, as `egctl completion bash|zsh`
 * prints it: a script generated from the command tree, so it completes
 * exactly the commands, aliases and flags `ctl` takes. zsh runs the same
 * function through its bash compatibility (so no local may be named `path`,
 * which zsh ties to PATH).
 *
 * @module
 */

import type { CommandSpec } from "./command_tree.ts";
import { OUTPUT_FORMATS } from "./output.ts";

/** The shells a script is made for. */
export const COMPLETION_SHELLS = ["bash", "zsh"] as const;

/** One of {@linkcode COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

const FLAGS_TAKING_VALUES = ["--server", "-o", "--output", "-f", "--file"];
const FLAGS = ["--server", "--output", "--file", "--help"];

/** The completion script of `root`'s commands for `shell`. */
export function completionScript<A>(shell: CompletionShell, root: CommandSpec<A>): string {
  const cases = groupCases(root, [""]).map(([paths, words]) =>
    `    ${paths.map((p) => JSON.stringify(p)).join("|")}) words=${JSON.stringify(words)} ;;`
  );
  const body = `_easegress_ctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" command_path="" w i skip=0 started=0 words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      ${FLAGS_TAKING_VALUES.join("|")}) skip=1; continue ;;
      -*) continue ;;
    esac
    if ((!started)); then [[ "$w" == ctl ]] && started=1; continue; fi
    command_path="\${command_path:+$command_path }$w"
  done
  if ((!started)); then
    COMPREPLY=($(compgen -W "ctl serve" -- "$cur"))
    return
  fi
  # The word is a flag's value, not a command.
  case "\${COMP_WORDS[COMP_CWORD - 1]}" in
    -o|--output) COMPREPLY=($(compgen -W "${OUTPUT_FORMATS.join(" ")}" -- "$cur")); return ;;
    -f|--file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --server) COMPREPLY=(); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${FLAGS.join(" ")}" -- "$cur"))
    return
  fi
  case "$command_path" in
${cases.join("\n")}
    "completion") words="${COMPLETION_SHELLS.join(" ")}" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _easegress_ctl easegress
`;
  if (shell === "bash") {
    return `# easegress ctl completion for bash: source <(easegress ctl completion bash)\n${body}`;
  }
  return `#compdef easegress
# easegress ctl completion for zsh: source <(easegress ctl completion zsh)
autoload -U +X bashcompinit && bashcompinit
${body}`;
}

/**
 * `[paths, words]` for every command group under `group`: the command
 * lines that reach it (every spelling, aliases included) and its children.
 */
function groupCases<A>(group: CommandSpec<A>, paths: string[]): [string[], string][] {
  const children = group.subcommands ?? [];
  if (children.length === 0) return [];
  const cases: [string[], string][] = [[paths, children.map((c) => c.name).join(" ")]];
  for (const child of children) {
    const spellings = [child.name, ...(child.aliases ?? [])];
    const childPaths = paths.flatMap((p) => spellings.map((s) => p ? `${p} ${s}` : s));
    cases.push(...groupCases(child, childPaths));
  }
  return cases;
}
