/**
 * The resource verbs of egctl in Easegress v2.1 and later (`create`,
 * `apply`, `get`, `describe`, `delete`, `api-resources`), over the same
 * admin API as the `object`, `member` and `custom-data` groups, so scripts
 * written for either egctl work. A resource is named by its kind in any
 * case (`httpserver`, `HTTPServer`), a plural (`pipelines`) or an egctl
 * alias (`cdk`); `get` prints tables unless `-o` asks for YAML or JSON.
 *
 * @module
 */

import { type AdminClient, ensureOk, parseStructured } from "./client.ts";
import type { CommandContext, CtlCommand } from "./commands.ts";
import { sendSpec } from "./send_spec.ts";
import { type ObjectDocument, parseObjectDocuments, stoppedAtLines } from "./documents.ts";
import { CtlError, UsageError } from "./errors.ts";
import { segment } from "./url_segment.ts";
import { toYamlText } from "../filters/yaml_text.ts";
import { httpProxySpecs } from "./http_proxy_specs.ts";
import { editResource } from "./edit_command.ts";

/** A kind of resource the verbs address. */
interface Resource {
  /** The kind as specs spell it: `HTTPServer`, `Member`, `CustomDataKind`. */
  readonly kind: string;
  /** What `api-resources` lists as its name: the kind in lower case. */
  readonly name: string;
  /** Other words naming it. */
  readonly aliases: readonly string[];
  /** Whether it is an object of `/objects` (else one of the three below). */
  readonly object: boolean;
}

const MEMBER = resource("Member", ["members", "m"], false);
const CUSTOM_DATA_KIND = resource("CustomDataKind", ["customdatakinds", "cdk"], false);
const CUSTOM_DATA = resource("CustomData", ["customdatas", "cd"], false);

function resource(kind: string, aliases: readonly string[], object: boolean): Resource {
  return { kind, name: kind.toLowerCase(), aliases, object };
}

/** Short names for the kinds typed most. */
const SHORT_NAMES: Readonly<Record<string, readonly string[]>> = {
  HTTPServer: ["hs"],
  Pipeline: ["pl"],
  EaseMonitorMetrics: ["emm"],
};

/** The plural of a kind's lower-case name; one already ending in s (metrics) has none. */
function plural(word: string): string | undefined {
  if (word.endsWith("s")) return undefined;
  return word.endsWith("y") ? `${word.slice(0, -1)}ies` : `${word}s`;
}

/** Every resource the node knows: its object kinds, then members and custom data. */
async function resources(client: AdminClient): Promise<Resource[]> {
  const kinds = await client.getData("/object-kinds");
  const objects = Array.isArray(kinds) ? kinds.filter((k) => typeof k === "string") : [];
  return [
    ...objects.map((kind) => {
      const many = plural(kind.toLowerCase());
      return resource(kind, [...(many ? [many] : []), ...(SHORT_NAMES[kind] ?? [])], true);
    }),
    MEMBER,
    CUSTOM_DATA_KIND,
    CUSTOM_DATA,
  ];
}

/** The resource `word` names, or a usage error listing the names. */
async function resourceNamed(client: AdminClient, word: string): Promise<Resource> {
  const all = await resources(client);
  const lower = word.toLowerCase();
  const found = all.find((r) => r.name === lower || r.aliases.includes(lower));
  if (found) return found;
  throw new UsageError(
    `unknown resource "${word}"; resources: ${all.map((r) => r.name).join(", ")}`,
  );
}

type Spec = Record<string, unknown>;

/** The objects of `kind` (all kinds when undefined), sorted by name; `name` picks one. */
async function objectsOf(
  client: AdminClient,
  kind: string | undefined,
  name?: string,
): Promise<Spec[]> {
  const listed = await client.getData("/objects");
  const specs = (Array.isArray(listed) ? listed : []) as Spec[];
  const picked = specs.filter((s) =>
    (kind === undefined || s.kind === kind) && (name === undefined || s.name === name)
  );
  if (name !== undefined && picked.length === 0) {
    throw new CtlError(`no ${kind ?? "object"} named "${name}"`);
  }
  return picked.sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/** Rows as columns padded to their widest cell, as egctl prints its tables. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column] + 3))
      .join("").trimEnd()
  ).join("\n") + "\n";
}

/**
 * `value` as the output format asks: JSON, or YAML with the texts a YAML 1.1
 * reader (egctl, Easegress) would take for booleans, numbers or dates quoted,
 * as the admin API writes them, so a header value "yes" saved from `get -o
 * yaml` and applied through egctl stays text.
 */
async function render(ctx: CommandContext, value: unknown): Promise<string> {
  return ctx.format === "json" ? `${JSON.stringify(value, null, 2)}\n` : await toYamlText(value);
}

/** `get RESOURCE [NAME]` for objects, members, custom data kinds and custom data. */
async function getResources(ctx: CommandContext): Promise<void> {
  const [word, name, ...more] = ctx.args;
  if (word.toLowerCase() === "all") {
    if (name !== undefined) throw new UsageError(`"get all" takes no name`);
    return printObjects(ctx, await objectsOf(ctx.client, undefined));
  }
  const target = await resourceNamed(ctx.client, word);
  if (target === CUSTOM_DATA) return getCustomData(ctx, name, more[0]);
  if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
  if (target.object) {
    const specs = await objectsOf(ctx.client, target.kind, name);
    // One named object prints as itself, as egctl prints it, so that what
    // "get KIND NAME -o yaml" prints can be edited and applied back.
    if (ctx.formatGiven && name !== undefined) return ctx.print(await render(ctx, specs[0]));
    return printObjects(ctx, specs);
  }
  if (target === MEMBER) {
    const members = ((await ctx.client.getData("/status/members")) ?? []) as Spec[];
    const picked = members.filter((m) => name === undefined || m.name === name);
    if (name !== undefined && picked.length === 0) {
      throw new CtlError(`no member named "${name}"`);
    }
    if (ctx.formatGiven) {
      return ctx.print(await render(ctx, name === undefined ? picked : picked[0]));
    }
    const rows = picked.map((m) => [m.name, m.role, m.apiAddr, m.alive, m.lastHeartbeatTime]);
    ctx.print(formatTable([
      ["NAME", "ROLE", "API-ADDR", "ALIVE", "LAST-HEARTBEAT"],
      ...rows.map((row) => row.map((cell) => String(cell ?? ""))),
    ]));
    return;
  }
  const path = name === undefined ? "/customdatakinds" : `/customdatakinds/${segment(name)}`;
  const found = await ctx.client.getData(path);
  if (ctx.formatGiven) return ctx.print(await render(ctx, found));
  const kinds = (Array.isArray(found) ? found : [found]) as Spec[];
  ctx.print(formatTable([
    ["NAME", "ID-FIELD", "JSON-SCHEMA"],
    ...kinds.map((k) => [String(k.name), String(k.idField || "name"), k.jsonSchema ? "yes" : "no"]),
  ]));
}

async function printObjects(ctx: CommandContext, specs: Spec[]): Promise<void> {
  if (ctx.formatGiven) return ctx.print(await render(ctx, specs));
  ctx.print(formatTable([["NAME", "KIND"], ...specs.map((s) => [String(s.name), String(s.kind)])]));
}

/** `get customdata KIND [ID]`: the ids of a kind's items, or the items themselves with `-o`. */
async function getCustomData(
  ctx: CommandContext,
  kind: string | undefined,
  id: string | undefined,
): Promise<void> {
  if (kind === undefined) throw new UsageError(`"get customdata" needs a custom data KIND`);
  const items = `/customdata/${segment(kind)}`;
  const found = await ctx.client.getData(id === undefined ? items : `${items}/${segment(id)}`);
  if (ctx.formatGiven) return ctx.print(await render(ctx, found));
  const spec = (await ctx.client.getData(`/customdatakinds/${segment(kind)}`)) as Spec;
  const idField = String(spec?.idField || "name");
  const list = (Array.isArray(found) ? found : [found]) as Spec[];
  ctx.print(formatTable([[idField.toUpperCase()], ...list.map((item) => [String(item[idField])])]));
}

/** `describe RESOURCE [NAME]`: each object's spec with its status on every member. */
async function describeResources(ctx: CommandContext): Promise<void> {
  const [word, name, ...more] = ctx.args;
  const target = await resourceNamed(ctx.client, word);
  if (!target.object) {
    // Members and custom data have no status beyond what get shows.
    const formatGiven = true;
    return getResources({ ...ctx, formatGiven, args: [word, ...(name ? [name] : []), ...more] });
  }
  if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
  const specs = await objectsOf(ctx.client, target.kind, name);
  const described = [];
  for (const spec of specs) {
    const reply = await ctx.client.send({
      method: "GET",
      path: `/status/objects/${segment(String(spec.name))}`,
    });
    const byMember = reply.status === 404 ? {} : parseStructured(ensureOk(reply).body) as Spec;
    const allStatus = Object.entries(byMember ?? {}).map(([node, status]) => ({ node, status }));
    described.push({ ...spec, allStatus });
  }
  if (ctx.format === "json") return ctx.print(await render(ctx, described));
  const texts = await Promise.all(described.map((spec) => toYamlText(spec)));
  ctx.print(texts.join("---\n"));
}

/** `delete RESOURCE NAME...` or `delete RESOURCE --all`. */
async function deleteResources(ctx: CommandContext): Promise<void> {
  const [word, ...names] = ctx.args;
  const target = await resourceNamed(ctx.client, word);
  if (target === CUSTOM_DATA) return deleteCustomData(ctx, names);
  if (target === MEMBER && ctx.own.all) {
    // A purge is for a node that is gone: the live ones, this one among them, are not to go.
    throw new UsageError(`members are purged by name: give the names of the Members to delete`);
  }
  if (ctx.own.all === (names.length > 0)) {
    throw new UsageError(`give the names of the ${target.kind}s to delete, or --all`);
  }
  if (target === MEMBER) {
    for (const name of names) {
      await ctx.client.call({ method: "DELETE", path: `/status/members/${segment(name)}` });
      ctx.print(`delete Member ${name} successfully\n`);
    }
    return;
  }
  if (target === CUSTOM_DATA_KIND) {
    const kinds = ctx.own.all ? await customDataKindNames(ctx.client) : names;
    for (const name of kinds) {
      await ctx.client.call({ method: "DELETE", path: `/customdatakinds/${segment(name)}` });
      ctx.print(`delete CustomDataKind ${name} successfully\n`);
    }
    return;
  }
  // Every name is checked before the first delete, so a typo deletes nothing.
  const existing = await objectsOf(ctx.client, target.kind);
  const known = new Set(existing.map((s) => String(s.name)));
  const missing = names.filter((name) => !known.has(name));
  if (missing.length > 0) {
    throw new CtlError(`no ${target.kind} named ${missing.map((n) => `"${n}"`).join(", ")}`);
  }
  for (const name of ctx.own.all ? [...known] : names) {
    await ctx.client.call({ method: "DELETE", path: `/objects/${segment(name)}` });
    ctx.print(`delete ${target.kind} ${name} successfully\n`);
  }
}

/** `delete customdata KIND ID...`, or every item of KIND with `--all`. */
async function deleteCustomData(ctx: CommandContext, [kind, ...ids]: string[]): Promise<void> {
  if (kind === undefined || ctx.own.all === (ids.length > 0)) {
    throw new UsageError(`give a custom data KIND and the IDs of its items to delete, or --all`);
  }
  const items = `/customdata/${segment(kind)}`;
  if (ctx.own.all) {
    // A batch that only rebuilds: every item of the kind goes, in one call.
    await ctx.client.call({ method: "POST", path: `${items}/items`, json: { rebuild: true } });
    ctx.print(`delete CustomData for kind ${kind} successfully\n`);
    return;
  }
  for (const id of ids) {
    await ctx.client.call({ method: "DELETE", path: `${items}/${segment(id)}` });
    ctx.print(`delete CustomData ${id} for kind ${kind} successfully\n`);
  }
}

async function customDataKindNames(client: AdminClient): Promise<string[]> {
  const kinds = await client.getData("/customdatakinds");
  return (Array.isArray(kinds) ? kinds : []).map((k) => String((k as Spec).name));
}

/** `create -f` and `apply -f`: objects, custom data kinds and custom data batches. */
function sendResources(mode: "create" | "apply"): (ctx: CommandContext) => Promise<void> {
  return async function sendAll(ctx) {
    if (ctx.args.length > 0) return createHttpProxy(ctx);
    const { text, source } = await ctx.readInput();
    const documents = parseObjectDocuments(text, source);
    for (const [position, doc] of documents.entries()) {
      try {
        const done = await sendResource(ctx.client, mode, doc);
        ctx.print(`${done} ${doc.kind} ${doc.name} successfully\n`);
      } catch (error) {
        if (!(error instanceof CtlError)) throw error;
        throw new CtlError(`${mode} ${doc.kind} ${doc.name} failed, ${error.message}`, [
          ...error.details,
          ...stoppedAtLines(documents.length, position, `${doc.index} of ${source}`, doc.line),
        ]);
      }
    }
  };
}

/**
 * `create httpproxy NAME --port PORT --rule HOST/PATH=URL,...`: the Pipelines
 * first, so the server never routes to one that is not there yet.
 */
async function createHttpProxy(ctx: CommandContext): Promise<void> {
  const [what, name] = ctx.args;
  if (what !== "httpproxy") {
    throw new UsageError(
      `cannot create "${what}": create reads -f FILE, or makes "httpproxy NAME"`,
    );
  }
  if (name === undefined) throw new UsageError(`"create httpproxy" needs a NAME`);
  const { server, pipelines } = await httpProxySpecs(name, ctx.own);
  const specs = [...pipelines, server];
  for (const [position, spec] of specs.entries()) {
    try {
      await ctx.client.call({ method: "POST", path: "/objects", json: spec });
    } catch (error) {
      if (!(error instanceof CtlError)) throw error;
      throw new CtlError(`create ${spec.kind} ${spec.name} failed, ${error.message}`, [
        ...error.details,
        `created before it: ${specs.slice(0, position).map((p) => p.name).join(", ") || "nothing"}`,
      ]);
    }
    ctx.print(`create ${spec.kind} ${spec.name} successfully\n`);
  }
}

/** Sends one document; returns what happened to it. */
async function sendResource(
  client: AdminClient,
  mode: "create" | "apply",
  doc: ObjectDocument,
): Promise<"create" | "update" | "apply"> {
  const { kind: _, ...fields } = doc.spec;
  if (doc.kind === CUSTOM_DATA.kind) {
    // A batch for the kind named by `name`, as egctl sends it.
    const { name: __, ...batch } = fields;
    await client.call({
      method: "POST",
      path: `/customdata/${segment(doc.name)}/items`,
      json: batch,
    });
    return mode;
  }
  const done = doc.kind === CUSTOM_DATA_KIND.kind
    ? await sendSpec(
      client,
      mode,
      { update: "/customdatakinds", create: "/customdatakinds" },
      { json: fields },
    )
    : await sendSpec(
      client,
      mode,
      { update: `/objects/${segment(doc.name)}`, create: "/objects" },
      { yaml: doc.text },
    );
  return done === "created" ? "create" : "update";
}

/** `api-resources`: what the verbs address. */
async function listResources(ctx: CommandContext): Promise<void> {
  const all = await resources(ctx.client);
  if (ctx.formatGiven) return ctx.print(await render(ctx, all.map(({ object: _, ...r }) => r)));
  ctx.print(formatTable([
    ["NAME", "ALIASES", "KIND"],
    ...all.map((r) => [r.name, r.aliases.join(","), r.kind]),
  ]));
}

const RESOURCE_HELP = `RESOURCE is an object kind in any case (httpserver, Pipeline), its plural,
or member, customdatakind (cdk), customdata (cd); "api-resources" lists them.`;

const SEND_HELP = `Reads YAML from FILE, or from stdin when -f is absent or "-". Documents
(separated by "---") are objects, or CustomDataKind and CustomData documents
(name: the kind; rebuild, delete, list as a batch); they are sent one by one,
stopping at the first the node refuses.`;

/** The resource verbs, for the root of the `ctl` tree. */
export const RESOURCE_COMMANDS: readonly CtlCommand[] = [
  {
    name: "create",
    summary: "Create resources from YAML, or an HTTPServer with Pipelines that proxy",
    description: `${SEND_HELP}

"create httpproxy NAME --port PORT --rule HOST/PATH=URL1,URL2 ..." makes an
HTTPServer NAME-server on PORT and, for each --rule, a Pipeline
NAME-pipeline-N whose Proxy sends requests for HOST/PATH to the URLs (round
robin). HOST may be empty; a PATH ending in * is a prefix. --tls serves
HTTPS with --cert-file/--key-file pairs (or --auto-cert), --ca-cert-file
asks clients for certificates.`,
    readsDocuments: true,
    optionalArgs: ["httpproxy", "NAME"],
    ownFlags: [
      "--port PORT",
      "--rule HOST/PATH=URL,...",
      "--tls",
      "--auto-cert",
      "--cert-file FILE",
      "--key-file FILE",
      "--ca-cert-file FILE",
    ],
    run: sendResources("create"),
  },
  {
    name: "apply",
    summary: "Create or update resources from YAML",
    description: SEND_HELP,
    readsDocuments: true,
    run: sendResources("apply"),
  },
  {
    name: "get",
    summary: 'List resources ("get all": every object), or show one',
    description:
      `${RESOURCE_HELP}\nPrints a table; -o yaml or -o json prints the resources (one NAME as itself,
which apply -f takes back).`,
    args: ["RESOURCE"],
    optionalArgs: ["NAME", "ID"],
    run: getResources,
  },
  {
    name: "describe",
    summary: "Show resources in full, objects with their status on every member",
    description: RESOURCE_HELP,
    args: ["RESOURCE"],
    optionalArgs: ["NAME"],
    run: describeResources,
  },
  {
    name: "edit",
    summary: "Edit a resource in your editor and send it back",
    description: `${RESOURCE_HELP}
The editor is $EGCTL_EDITOR, else $EDITOR, else vi. "edit customdata KIND"
edits every item of KIND at once; "edit customdata KIND ID" one item. An
unchanged file sends nothing; a file the node refuses is kept, and its path
printed.`,
    args: ["RESOURCE", "NAME"],
    optionalArgs: ["ID"],
    run: async function edit(ctx) {
      const [word, ...names] = ctx.args;
      return editResource(ctx, await resourceNamed(ctx.client, word), names);
    },
  },
  {
    name: "delete",
    summary: "Delete resources by name, or all of a kind with --all",
    description:
      `${RESOURCE_HELP}\nEvery name is checked first: a name that does not exist deletes nothing.`,
    args: ["RESOURCE"],
    optionalArgs: ["NAME..."],
    ownFlags: ["--all"],
    run: deleteResources,
  },
  {
    name: "api-resources",
    summary: "List the resources the verbs address",
    run: listResources,
  },
];
