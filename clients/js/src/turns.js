// Groups conversation events by `turn_idx` (SPEC §3.3): one record per turn with the
// user's words, the replica's words so far and whether the reply was cut off.

export class TurnGrouper {
  constructor() {
    this._turns = new Map();
  }

  /** Add an event; returns its turn record, or null when it belongs to no turn. */
  add(msg) {
    if (typeof msg.turn_idx !== "number") return null;
    let turn = this._turns.get(msg.turn_idx);
    if (!turn) {
      turn = { turn_idx: msg.turn_idx, events: [], user: null, replica: null, interrupted: false };
      this._turns.set(msg.turn_idx, turn);
    }
    turn.events.push(msg);
    const p = msg.properties || {};
    if (msg.event_type === "conversation.utterance") {
      if (p.role === "user") turn.user = p.speech;
      else turn.replica = p.speech;
    } else if (msg.event_type === "conversation.utterance.streaming" && p.role !== "user") {
      turn.replica = p.speech;
      if (p.is_interrupted) turn.interrupted = true;
    } else if (msg.event_type === "conversation.replica.stopped_speaking" && p.interrupted) {
      turn.interrupted = true;
    }
    return turn;
  }

  /** Every turn seen, oldest first. */
  list() {
    return [...this._turns.values()].sort((a, b) => a.turn_idx - b.turn_idx);
  }
}
