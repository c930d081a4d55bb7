/**
 * `edit RESOURCE NAME`, as egctl of Easegress v2.1 and later: the resource's
 * YAML goes to a temporary file, the editor opens it (`EGCTL_EDITOR`, else
 * `EDITOR`, else vi), and what is saved is sent back. An unchanged file sends
 * nothing; a file that cannot be sent is kept, and its path said, so the work
 * in it is not lost.
 *
 * @module
 */

import type { CommandContext } from "./commands.ts";
import { type DataDocument, parseDataDocuments, parseObjectDocuments } from "./documents.ts";
import { CtlError, UsageError } from "./errors.ts";
import { segment } from "./url_segment.ts";
import { stringify as toYaml } from "yaml";

/** Opens `path` in the user's editor and resolves when the editor exits. */
export type EditorRunner = (path: string) => Promise<void>;

/** Runs `$EGCTL_EDITOR`, `$EDITOR` or vi on `path` through the shell, on this terminal. */
export async function runUserEditor(path: string): Promise<void> {
  const editor = Deno.env.get("EGCTL_EDITOR") || Deno.env.get("EDITOR") || "vi";
  // Through the shell, as the variables may carry arguments ("code --wait").
  const status = await new Deno.Command("sh", {
    args: ["-c", `${editor} "$1"`, "sh", path],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new CtlError(`editor "${editor}" exited with code ${status.code}`);
}

/** What is being edited: how to read it, and how to send the edited text back. */
interface EditTarget {
  /** For messages and the file's name: `Pipeline demo`. */
  readonly label: string;
  /** The YAML the editor starts from. */
  readonly text: string;
  /** Sends the edited text; throws when the node refuses it. */
  send(text: string, source: string): Promise<void>;
}

/** `edit RESOURCE NAME [ID]` for objects, custom data kinds and custom data. */
export async function editResource(
  ctx: CommandContext,
  resource: { kind: string; object: boolean },
  [name, id]: readonly string[],
): Promise<void> {
  if (name === undefined) throw new UsageError(`"edit" needs the NAME of the ${resource.kind}`);
  const target = resource.object
    ? await objectTarget(ctx, resource.kind, name)
    : resource.kind === "CustomDataKind"
    ? await customDataKindTarget(ctx, name)
    : resource.kind === "CustomData"
    ? await customDataTarget(ctx, name, id)
    : undefined;
  if (!target) throw new UsageError(`a ${resource.kind} cannot be edited`);
  if (id !== undefined && resource.kind !== "CustomData") {
    throw new UsageError(`unexpected argument "${id}"`);
  }
  const path = await Deno.makeTempFile({
    prefix: `egctl-${target.label.replaceAll(/[^A-Za-z0-9_.-]+/g, "-")}-`,
    suffix: ".yaml",
  });
  await Deno.writeTextFile(path, target.text);
  await ctx.runEditor(path);
  const edited = await Deno.readTextFile(path);
  if (edited === target.text) {
    await Deno.remove(path);
    ctx.print(`edit ${target.label}: no changes made\n`);
    return;
  }
  try {
    await target.send(edited, path);
  } catch (error) {
    if (!(error instanceof CtlError)) throw error;
    throw new CtlError(`edit ${target.label} failed, ${error.message}`, [
      ...error.details,
      `your changes are kept in ${path}`,
    ]);
  }
  await Deno.remove(path);
  ctx.print(`edit ${target.label} successfully\n`);
}

/** An object: its spec with name and kind first; sent back under the same name and kind. */
async function objectTarget(ctx: CommandContext, kind: string, name: string) {
  const spec = (await ctx.client.getData(`/objects/${segment(name)}`)) as Record<string, unknown>;
  if (spec?.kind !== kind) throw new CtlError(`no ${kind} named "${name}"`);
  const { name: _, kind: __, ...fields } = spec;
  return {
    label: `${kind} ${name}`,
    text: `name: ${JSON.stringify(name)}\nkind: ${kind}\n\n${toYaml(fields)}`,
    async send(text: string, source: string) {
      const docs = parseObjectDocuments(text, source);
      if (docs.length !== 1 || docs[0].name !== name || docs[0].kind !== kind) {
        throw new CtlError(`the file must hold the one ${kind} named "${name}"`);
      }
      await ctx.client.call({
        method: "PUT",
        path: `/objects/${segment(name)}`,
        yaml: docs[0].text,
      });
    },
  };
}

async function customDataKindTarget(ctx: CommandContext, name: string) {
  const spec = await ctx.client.getData(`/customdatakinds/${segment(name)}`);
  if (!spec) throw new CtlError(`no CustomDataKind named "${name}"`);
  return {
    label: `CustomDataKind ${name}`,
    text: toYaml(spec),
    async send(text: string, source: string) {
      const doc = oneMap(text, source);
      if (doc.value.name !== name) throw new CtlError(`the file must keep name "${name}"`);
      await ctx.client.call({ method: "PUT", path: "/customdatakinds", yaml: doc.text });
    },
  };
}

/** One item, or with no ID every item of the kind as one rebuilding batch. */
async function customDataTarget(ctx: CommandContext, kind: string, id: string | undefined) {
  const items = `/customdata/${segment(kind)}`;
  if (id !== undefined) {
    const item = await ctx.client.getData(`${items}/${segment(id)}`);
    if (!item) throw new CtlError(`no CustomData "${id}" of kind "${kind}"`);
    return {
      label: `CustomData ${kind} ${id}`,
      text: toYaml(item),
      async send(text: string, source: string) {
        await ctx.client.call({ method: "PUT", path: items, yaml: oneMap(text, source).text });
      },
    };
  }
  const list = await ctx.client.getData(items);
  return {
    label: `CustomData ${kind}`,
    text: `# Every item of ${kind}; the saved list replaces them all.\n` +
      toYaml({ rebuild: true, list: list ?? [] }),
    async send(text: string, source: string) {
      await ctx.client.call({
        method: "POST",
        path: `${items}/items`,
        yaml: oneMap(text, source).text,
      });
    },
  };
}

function oneMap(text: string, source: string): DataDocument {
  const docs = parseDataDocuments(text, source);
  if (docs.length !== 1) throw new CtlError(`the file must hold one YAML document`);
  return docs[0];
}
