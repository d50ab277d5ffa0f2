/** A small typed event emitter: the same in browsers and Node, no EventTarget subclassing. */
type Listener<V> = (value: V) => void;

export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Calls `fn` on every `type` event; returns the function that stops it. */
  on<K extends keyof E>(type: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(fn);
    return () => this.off(type, fn);
  }

  /** Calls `fn` on the next `type` event only. */
  once<K extends keyof E>(type: K, fn: Listener<E[K]>): () => void {
    const off = this.on(type, (v) => {
      off();
      fn(v);
    });
    return off;
  }

  off<K extends keyof E>(type: K, fn: Listener<E[K]>): void {
    this.listeners.get(type)?.delete(fn);
  }

  /** A listener that throws is reported on the console: it must not break the SDK's own bookkeeping. */
  protected emit<K extends keyof E>(type: K, value: E[K]): void {
    const set = this.listeners.get(type);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<E[K]>)(value);
      } catch (err) {
        console.error(`roomcast: a "${String(type)}" listener threw`, err);
      }
    }
  }
}
