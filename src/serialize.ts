/**
 * JSON for values that come from the host app. `JSON.stringify` throws on BigInt and on cycles,
 * and a throwing getter or toJSON would throw too; the SDK must not, so those become plain values
 * here and anything still unserializable is reported as undefined for the caller to handle.
 */
export function toJson(value: unknown): string | undefined {
  // Nearly every value is plain JSON: JSON.stringify without a replacer writes it several times faster
  // (every captured call is serialized here, issue 18). Only a value it refuses pays for the careful
  // pass, which then runs the app's getters a second time.
  try {
    return JSON.stringify(value);
  } catch {
    return carefulJson(value);
  }
}

/** toJson for a value JSON.stringify refuses: BigInt as text, a cycle as '[Circular]', or undefined. */
function carefulJson(value: unknown): string | undefined {
  // The objects being written, outermost first: only an object that contains itself is a cycle;
  // the same object reached twice by different paths ({ billing: address, shipping: address }) is not.
  const ancestors: unknown[] = [];
  try {
    return JSON.stringify(value, function (this: unknown, _key, item: unknown) {
      if (typeof item == 'bigint') return String(item);
      if (typeof item != 'object' || !item) return item;
      // Back up to the object holding `item` (the outermost call's holder is JSON's own wrapper: none of ours).
      ancestors.splice(ancestors.indexOf(this) + 1);
      if (ancestors.includes(item)) return '[Circular]';
      ancestors.push(item);
      return item;
    });
  } catch {
    return undefined;
  }
}
