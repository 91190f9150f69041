/**
 * Wraps `target[name]` (fetch, XMLHttpRequest.prototype.open, history.pushState...) so that undoing
 * never breaks another library: if our wrapper is still the installed one, the original goes back;
 * if someone wrapped ours since, we cannot take it out of their chain without losing theirs, so ours
 * stays and passes calls straight through. Returns the undo function.
 */
export function patch<T extends object, K extends keyof T>(target: T, name: K, around: (original: T[K]) => T[K]): () => void {
  type Callable = (...args: unknown[]) => unknown;
  const original = target[name] as Callable;
  const ours = around(original as T[K]) as Callable;
  let active = true;
  const installed = function (this: unknown, ...args: unknown[]) {
    return (active ? ours : original).apply(this, args);
  } as T[K];
  target[name] = installed;
  return () => {
    active = false;
    if (target[name] === installed) target[name] = original as T[K];
  };
}
