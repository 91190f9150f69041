/** Listeners by event type. Each names the event type it takes, so any parameter type is accepted here. */
type Listeners = Record<string, (event: never) => void>;

/**
 * Adds each of `listeners` to `target` and gives back a function that removes them all again, with
 * the same `options` (a capture-phase listener is only removed by naming the capture phase again).
 */
export function listen(target: EventTarget, listeners: Listeners, options?: boolean | AddEventListenerOptions): () => void {
  const each = (method: 'addEventListener' | 'removeEventListener'): void => {
    // Own keys only: a page whose Object.prototype has enumerable properties (old libraries, pollution)
    // would otherwise have them added as listeners, and a value that is no function throws.
    // The cast: the DOM's listener type takes any Event; each listener here takes its own event's type.
    for (const type of Object.keys(listeners)) target[method](type, listeners[type] as EventListener, options);
  };
  each('addEventListener');
  return () => each('removeEventListener');
}
