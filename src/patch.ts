/** Turns a wrapper on (true) or off (false). */
export type Toggle = (on: boolean) => void;

/**
 * Puts a wrapper in place of `target[key]` (or of its getter, for an accessor such as
 * Response.prototype.body) when turned on, and takes it off when turned off, safely next to other
 * code that patches the same thing (another copy of the SDK, an APM agent, a mock):
 * - off, while `target[key]` is still our wrapper: the original goes back;
 * - off, after someone wrapped our wrapper: theirs stays in place, and ours, still called by theirs,
 *   only passes calls through (the wrapper asks its owner whether it is on);
 * - on again: that same wrapper is reused, so start/stop cycles never stack layers.
 * `wrap` gets the original as `Function` because it is only ever called with `.apply(this, arguments)`
 * (or `.call(this)` for a getter), passing on exactly what the app passed.
 */
export function patch(slot: Record<string, unknown>, key: string, wrap: (original: Function) => Function, getter?: boolean): Toggle {
  let original: Function;
  let wrapper: Function | undefined;
  const put = (fn: Function): unknown => (getter ? Object.defineProperty(slot, key, { get: fn as () => unknown, configurable: true, enumerable: true }) : (slot[key] = fn));
  return (on) => {
    const current = getter ? Object.getOwnPropertyDescriptor(slot, key)?.get : slot[key];
    if (on && !wrapper && typeof current == 'function') put((wrapper = wrap((original = current))));
    if (!on && wrapper && current === wrapper) {
      put(original);
      wrapper = undefined;
    }
  };
}
