/**
 * MQTT topic filters (MQTT 3.1.1 section 4.7): `+` matches one level, `#`
 * (last) the level it stands at and everything below, including the parent
 * itself (`a/#` matches `a`); wildcards at the first level do not match
 * topics starting with `$`.
 *
 * @module
 */

/** Whether `topic` matches the subscription `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const want = filter.split("/");
  const got = topic.split("/");
  for (let i = 0; i < want.length; i++) {
    const level = want[i];
    if (level === "#") return true;
    if (i >= got.length) return false;
    if (level !== "+" && level !== got[i]) return false;
  }
  return want.length === got.length;
}

/** What is wrong with `filter` as a subscription topic filter, or undefined. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === "") return "is empty";
  if (filter.includes("\0")) return "has a NUL character";
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      return '"#" must be a whole level, and the last';
    }
    if (level.includes("+") && level !== "+") return '"+" must be a whole level';
  }
  return undefined;
}

/** Characters a topic name (what PUBLISH names) may not hold: wildcards and NUL (MQTT 4.7, 1.5.3). */
const NOT_IN_TOPIC_NAME = /[+#\0]/;

/** The most bytes a topic may have: an MQTT string's length is written in two bytes (MQTT 1.5.3). */
export const MAX_TOPIC_BYTES = 65_535;
const encoder = new TextEncoder();

/** What is wrong with `topic` as the topic name of a PUBLISH, or undefined. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic === "") return "is empty";
  // A UTF-16 unit takes at most 3 bytes in UTF-8: only a long one is encoded to be measured. A
  // longer one could not be written to subscribers: the packet writer left its PUBLISH half
  // written, and the subscriber took what followed on its connection for the rest of it.
  if (topic.length * 3 > MAX_TOPIC_BYTES) {
    const bytes = encoder.encode(topic).length;
    if (bytes > MAX_TOPIC_BYTES) return `has ${bytes} bytes, more than ${MAX_TOPIC_BYTES}`;
  }
  if (NOT_IN_TOPIC_NAME.test(topic)) return "has a wildcard or a NUL character";
  return undefined;
}
