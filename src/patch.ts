/** Turns a wrapper on (true) or off (false). */
export type Toggle = (on: boolean) => void;

/**
 * Puts a wrapper in place of `target[key]` when turned on, and takes it off when turned off, safely
 * next to other code that patches the same thing (another copy of the SDK, an APM agent, a mock):
 * - off, while `target[key]` is still our wrapper: the original goes back;
 * - off, after someone wrapped our wrapper: theirs stays in place, and ours, still called by theirs,
 *   only passes calls through (the wrapper asks its owner whether it is on);
 * - on again: that same wrapper is reused, so start/stop cycles never stack layers.
 * `wrap` gets the original as `Function` because it is only ever called with `.apply(this, arguments)`,
 * passing on exactly what the app passed.
 */
export function patch(slot: Record<string, unknown>, key: string, wrap: (original: Function) => Function): Toggle {
  let original: Function;
  let wrapper: Function | undefined;
  return (on) => {
    const current = slot[key];
    if (on && !wrapper && typeof current == 'function') slot[key] = wrapper = wrap((original = current));
    if (!on && wrapper && current === wrapper) {
      slot[key] = original;
      wrapper = undefined;
    }
  };
}
