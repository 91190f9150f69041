/**
 * JSON for values that come from the host app. `JSON.stringify` throws on BigInt and on cycles,
 * and a throwing getter or toJSON would throw too; the SDK must not, so those become plain values
 * here and anything still unserializable is reported as undefined for the caller to handle.
 */
export function toJson(value: unknown): string | undefined {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === 'bigint') return item.toString();
      if (typeof item === 'object' && item !== null) {
        // A repeated object is written once; a second sighting is most often a cycle.
        if (seen.has(item)) return '[Circular]';
        seen.add(item);
      }
      return item;
    });
  } catch {
    return undefined;
  }
}
