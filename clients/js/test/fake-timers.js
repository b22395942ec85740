// A virtual clock for tests: setTimeout/clearTimeout/setInterval that run on advance().
export class FakeTimers {
  constructor() {
    this.now = 0;
    this._next = 1;
    this._tasks = new Map();
  }
  setTimeout(fn, ms = 0) {
    const id = this._next++;
    this._tasks.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(id) {
    this._tasks.delete(id);
  }
  setInterval(fn, ms) {
    const id = this._next++;
    const tick = () => {
      this._tasks.set(id, { at: this.now + ms, fn: () => (tick(), fn()) });
    };
    tick();
    return id;
  }
  clearInterval(id) {
    this._tasks.delete(id);
  }
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this._tasks.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this._tasks.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = end;
  }
}
