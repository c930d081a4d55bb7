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

/** Writes `<home>/easegress.pid`; the returned function removes it (if it is still ours). */
export async function writePidFile(homeDir: string): Promise<() => Promise<void>> {
  const path = joinPath(homeDir, "easegress.pid");
  const pid = String(Deno.pid);
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
