// Delivers sequenced events (SPEC §3) exactly once and in `seq` order: an early arrival
// is held, a duplicate dropped, a gap filled by asking the server to replay it
// (`system.resume`) once; if the replay does not close the gap either, the missing
// events are reported lost and delivery goes on. Timers are injected so tests can drive
// them with a virtual clock.

export class SeqOrderer {
  /**
   * deliver(msg): called for each message, in order.
   * requestResume(lastSeq): ask the server for everything after lastSeq.
   * onLost(lastSeq): events after lastSeq could not be recovered.
   */
  constructor({ deliver, requestResume, onLost, gapTimeoutMs = 1000, timers = globalThis }) {
    this._deliver = deliver;
    this._requestResume = requestResume;
    this._onLost = onLost;
    this._gapTimeoutMs = gapTimeoutMs;
    this._timers = timers;
    this._pending = new Map();
    this._timer = null;
    this._resumed = false;
    /** The last seq delivered; null until the first sequenced event sets the baseline. */
    this.lastSeq = null;
  }

  /** Take one message off the wire; returns false when it was a duplicate. */
  push(msg) {
    if (typeof msg.seq !== "number") {
      this._deliver(msg); // unsequenced (system.error): at once
      return true;
    }
    if (this.lastSeq === null) this.lastSeq = msg.seq - 1; // first live event: the baseline
    if (msg.seq <= this.lastSeq || this._pending.has(msg.seq)) return false;
    this._pending.set(msg.seq, msg);
    this._drain();
    return true;
  }

  /** Events held back waiting for an earlier one. */
  get pending() {
    return this._pending.size;
  }

  /** Forget held events and timers (the connection is gone); lastSeq is kept. */
  clear() {
    this._timers.clearTimeout(this._timer);
    this._timer = null;
    this._pending.clear();
    this._resumed = false;
  }

  _drain() {
    while (this._pending.has(this.lastSeq + 1)) {
      const next = this._pending.get(this.lastSeq + 1);
      this._pending.delete(this.lastSeq + 1);
      this.lastSeq += 1;
      this._deliver(next);
    }
    this._timers.clearTimeout(this._timer);
    this._timer = null;
    if (this._pending.size === 0) {
      this._resumed = false;
      return;
    }
    this._timer = this._timers.setTimeout(() => this._onGapTimeout(), this._gapTimeoutMs);
  }

  _onGapTimeout() {
    this._timer = null;
    if (!this._resumed) {
      this._resumed = true;
      this._requestResume(this.lastSeq);
      this._drain();
      return;
    }
    this._onLost(this.lastSeq);
    this.lastSeq = Math.min(...this._pending.keys()) - 1;
    this._resumed = false;
    this._drain();
  }
}
