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
    // On a page that gave arrays a toJSON, only the careful pass writes them as arrays (see there).
    return arrayToJson() ? carefulJson(value) : JSON.stringify(value);
  } catch {
    return carefulJson(value);
  }
}

/**
 * The toJSON a page gave every array, if any. Prototype.js 1.6's returns a string, so that
 * JSON.stringify([1]) is '"[1]"': every array in a batch would reach the collector as a string (a
 * famous breaker of analytics batches, which Mixpanel and Segment guard against too).
 */
const arrayToJson = (): unknown => ([] as { toJSON?: unknown }).toJSON;

/**
 * toJson for a value JSON.stringify refuses, or on a page whose arrays have a toJSON: BigInt as text,
 * a cycle as '[Circular]', an array as an array (not what the page's toJSON made of it), or undefined.
 */
function carefulJson(value: unknown): string | undefined {
  // The objects being written, outermost first: only an object that contains itself is a cycle;
  // the same object reached twice by different paths ({ billing: address, shipping: address }) is not.
  const ancestors: unknown[] = [];
  const pageToJson = arrayToJson();
  try {
    return JSON.stringify(value, function (this: Record<string, unknown>, key, item: unknown) {
      // JSON.stringify calls toJSON before the replacer: the array itself is still in its holder. An array
      // with a toJSON of its own keeps it.
      const raw = pageToJson && typeof item == 'string' ? this[key] : undefined;
      if (Array.isArray(raw) && (raw as { toJSON?: unknown }).toJSON === pageToJson) item = raw;
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
