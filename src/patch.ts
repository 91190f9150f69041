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
 *   was taken off, so start/stop cycles never stack layers;
 * - a shimmer `unwrap()` while ours is outside theirs (OpenTelemetry's instrumentations wrap with shimmer,
 *   and older releases unwrap when disabled, 0.223.0 when wrapping failed): shimmer calls the `__unwrap` of
 *   whatever is in place, expecting its own wrapper there. Without one of ours it could not take theirs off
 *   (it said "no original to unwrap to" on the console, and theirs went on running inside ours); ours takes
 *   theirs out from under it, as shimmer would have taken it off the top.
 * With `'getter'`, what is wrapped is the accessor's getter (Response.prototype.body), not a method.
 * `wrap` gets the original as `Function` because it is only ever called with `.apply(this, arguments)`
 * (or `.call(this)` for a getter), passing on exactly what the app passed.
 */
export function patch<T extends object>(target: T, key: keyof T & string, wrap: (original: Function) => Function, kind?: 'getter'): Toggle {
  // The wrapper replaces whatever function is there, whatever its declared type.
  const slot = target as Record<string, unknown>;
  const getter = kind == 'getter';
  /** What our wrapper calls: what was in place when it was put there, or what that wrapped, once a shimmer unwrap took it out. */
  let inner: Function;
  let wrapper: Function | undefined;
  /** Called by shimmer's unwrap(target, key) (see above): takes the shimmer wrapper under ours out of the chain. */
  const unwrapBelow = (): void => {
    const below = (inner as { __original?: unknown }).__original;
    if (typeof below == 'function') inner = below;
  };
  const put = (fn: Function): void => {
    if (getter) Object.defineProperty(slot, key, { get: fn as () => unknown, configurable: true, enumerable: true });
    else slot[key] = fn;
  };
  return (on) => {
    const current = getter ? Object.getOwnPropertyDescriptor(slot, key)?.get : slot[key];
    if (on && !wrapper && typeof current == 'function') {
      // Given a function that calls `inner`, so that a shimmer unwrap can change what ours calls.
      const made = wrap(function (this: unknown) {
        return inner.apply(this, arguments);
      });
      // The page sees the original's name and length (fetch.length 1, not our wrapper's 2): code that
      // inspects them, a polyfill's or an APM agent's check, finds what the browser gives. Once per
      // wrapper, here, never per call. Not shimmer's `__original` and `__wrapped`: with them, isWrapped()
      // would take ours for a shimmer wrapper, and older releases of OpenTelemetry's instrumentations, which
      // unwrapped whatever isWrapped() found before wrapping, would take ours off.
      Object.defineProperties(made, { name: { value: current.name }, length: { value: current.length }, __unwrap: { value: unwrapBelow } });
      try {
        put(made);
      } catch {
        return false;
      }
      inner = current;
      wrapper = made;
    }
    if (!on && wrapper && current === wrapper) {
      try {
        put(inner);
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
