/**
 * Turns a wrapper on (true) or off (false). Gives back false when the page refused it: the property
 * is read-only (a frozen object: SES's harden(), Object.freeze), so nothing was wrapped.
 */
export type Toggle = (on: boolean) => boolean;

/**
 * Puts a wrapper in place of `target[key]` when turned on, and takes it off when turned off, safely
 * next to other code that patches the same thing (another copy of the SDK, an APM agent, a mock):
 * - off, while `target[key]` is still our wrapper: the original goes back;
 * - off, after someone wrapped our wrapper: theirs stays in place, and ours, still called by theirs,
 *   only passes calls through (the wrapper asks its owner whether it is on);
 * - on again: our wrapper still inside theirs is reused, and a new one is put in place only once ours
 *   was taken off, so start/stop cycles never stack layers.
 * With `'getter'`, what is wrapped is the accessor's getter (Response.prototype.body), not a method.
 * `wrap` gets the original as `Function` because it is only ever called with `.apply(this, arguments)`
 * (or `.call(this)` for a getter), passing on exactly what the app passed.
 */
export function patch<T extends object>(target: T, key: keyof T & string, wrap: (original: Function) => Function, kind?: 'getter'): Toggle {
  // The wrapper replaces whatever function is there, whatever its declared type.
  const slot = target as Record<string, unknown>;
  const getter = kind == 'getter';
  let original: Function;
  let wrapper: Function | undefined;
  const put = (fn: Function): void => {
    if (getter) Object.defineProperty(slot, key, { get: fn as () => unknown, configurable: true, enumerable: true });
    else slot[key] = fn;
  };
  return (on) => {
    const current = getter ? Object.getOwnPropertyDescriptor(slot, key)?.get : slot[key];
    if (on && !wrapper && typeof current == 'function') {
      const made = wrap(current);
      // The page sees the original's name and length (fetch.length 1, not our wrapper's 2): code that
      // inspects them, a polyfill's or an APM agent's check, finds what the browser gives. Once per
      // wrapper, here, never per call.
      Object.defineProperties(made, { name: { value: current.name }, length: { value: current.length } });
      try {
        put(made);
      } catch {
        return false;
      }
      original = current;
      wrapper = made;
    }
    if (!on && wrapper && current === wrapper) {
      try {
        put(original);
        wrapper = undefined;
      } catch {
        // The page made the property read-only since (a freeze): our wrapper stays in place, and passes
        // calls through while off, as it does inside another's wrapper. Turning off never fails: a
        // revoke of consent turns capture off, and must take effect.
      }
    }
    return true;
  };
}
