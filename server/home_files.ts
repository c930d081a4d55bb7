/**
 * The files Easegress keeps in its home dir for operators: `easegress.pid`
 * (the node's process id, while it runs) and `running_objects.yaml` (the
 * objects the node last applied, written when they change).
 *
 * @module
 */

import type { Logger } from "../filters/filter.ts";
import { toYamlText } from "../filters/yaml_text.ts";
import { errorText } from "./error_text.ts";
import type { ObjectSpec } from "./objects.ts";
import { joinPath } from "./paths.ts";

/**
 * Writes `<home>/easegress.pid`; the returned function removes it (if it is
 * still ours). Refuses a home dir whose pid file names another node still
 * running: two nodes on one home dir (their data dirs apart) overwrote each
 * other's pid file and `running_objects.yaml`.
 */
export async function writePidFile(homeDir: string): Promise<() => Promise<void>> {
  const path = joinPath(homeDir, "easegress.pid");
  const pid = String(Deno.pid);
  const recorded = Number((await Deno.readTextFile(path).catch(() => "")).trim());
  if (Number.isSafeInteger(recorded) && recorded > 0 && recorded !== Deno.pid) {
    if (await runsServe(recorded)) {
      throw new Error(
        `--home-dir: ${homeDir} is in use by another node, pid ${recorded} (in ${path}); ` +
          "give each node a home dir of its own",
      );
    }
  }
  try {
    await Deno.writeTextFile(path, `${pid}\n`);
  } catch (e) {
    // The bare OS error named neither the file nor the option that placed it.
    throw new Error(`--home-dir: cannot write the pid file ${path}: ${errorText(e)}`);
  }
  return async () => {
    try {
      if ((await Deno.readTextFile(path)).trim() === pid) await Deno.remove(path);
    } catch {
      // Already gone.
    }
  };
}

/**
 * Whether process `pid` runs a node (`serve` among its arguments), as Linux's
 * /proc tells: a pid file left by a node that was killed may name a process
 * started since, which is none. Elsewhere, false.
 */
async function runsServe(pid: number): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").includes("serve");
  } catch {
    return false;
  }
}

/** Keeps `<home>/running_objects.yaml` in step with the applied objects. */
export class RunningObjectsFile {
  readonly #path: string;
  readonly #log: Logger;
  #last = "";
  #writing: Promise<void> = Promise.resolve();

  constructor(homeDir: string, log: Logger) {
    this.#path = joinPath(homeDir, "running_objects.yaml");
    this.#log = log;
  }

  /** Writes `objects` (sorted by name) when they differ from the last written. */
  update(objects: readonly ObjectSpec[]): void {
    this.#writing = this.#writing.then(async () => {
      const sorted = [...objects].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      const text = await toYamlText(sorted);
      if (text === this.#last) return;
      // A rename, so a reader never sees half a file.
      const temporary = `${this.#path}.tmp`;
      try {
        await Deno.writeTextFile(temporary, text);
        await Deno.rename(temporary, this.#path);
        this.#last = text;
      } catch (e) {
        this.#log.warn(`cannot write ${this.#path}: ${errorText(e)}`);
      }
    });
  }

  /** Waits for the last write. */
  flush(): Promise<void> {
    return this.#writing;
  }
}
