/**
 * A node's identity across restarts: a random id kept in `<data-dir>/node-id`.
 * Its member document carries it, so a node restarted after a crash (its old
 * document still fresh) is told apart from another node given the same name.
 *
 * @module
 */

import { errorText } from "./error_text.ts";
import { joinPath } from "./paths.ts";

const FILE_NAME = "node-id";

/** The id kept in `dataDir`, made and stored on the first call for that dir. */
export async function nodeIdOf(dataDir: string): Promise<string> {
  const path = joinPath(dataDir, FILE_NAME);
  const kept = await readId(path);
  if (kept) return kept;
  const id = crypto.randomUUID();
  try {
    await Deno.writeTextFile(path, `${id}\n`, { createNew: true });
    return id;
  } catch (e) {
    // Another start on this dir made it first: its id is the dir's.
    if (e instanceof Deno.errors.AlreadyExists) return (await readId(path)) ?? id;
    throw new Error(`--data-dir: cannot write ${path}: ${errorText(e)}`);
  }
}

async function readId(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim() || undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`--data-dir: cannot read ${path}: ${errorText(e)}`);
  }
}
