// A small EventEmitter with daily-js's on/once/off/emit semantics: handlers run in the
// order they were added; a throwing handler is logged and never stops the others.
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  /** Add a handler; returns `this` for chaining (as daily-js does). */
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return this;
  }

  once(event, handler) {
    const wrapper = (payload) => {
      this.off(event, wrapper);
      handler(payload);
    };
    wrapper.original = handler;
    return this.on(event, wrapper);
  }

  /** Remove one handler (also one added with `once`); without a handler, all of them. */
  off(event, handler) {
    const set = this._handlers.get(event);
    if (!set) return this;
    if (!handler) set.clear();
    for (const h of set) if (h === handler || h.original === handler) set.delete(h);
    return this;
  }

  emit(event, payload) {
    const set = this._handlers.get(event);
    if (!set) return false;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (err) {
        console.error(`openreplica: "${event}" handler failed`, err);
      }
    }
    return true;
  }

  removeAllListeners() {
    this._handlers.clear();
    return this;
  }
}
