import { test } from "node:test";
import assert from "node:assert/strict";
import { TurnGrouper } from "../src/turns.js";

test("groups events per turn_idx with the user's and the replica's words", () => {
  const turns = new TurnGrouper();
  assert.equal(turns.add({ event_type: "system.replica_joined", seq: 1 }), null);
  turns.add({ event_type: "conversation.utterance", turn_idx: 2, properties: { role: "user", speech: "tell me" } });
  turns.add({ event_type: "conversation.utterance", turn_idx: 1, properties: { role: "user", speech: "hi" } });
  turns.add({ event_type: "conversation.utterance.streaming", turn_idx: 2, properties: { role: "replica", speech: "Once", is_interrupted: false } });
  const last = turns.add({ event_type: "conversation.replica.stopped_speaking", turn_idx: 2, properties: { interrupted: true } });
  assert.equal(last.interrupted, true);
  const list = turns.list();
  assert.deepEqual(list.map((t) => [t.turn_idx, t.user, t.replica, t.interrupted, t.events.length]), [
    [1, "hi", null, false, 1],
    [2, "tell me", "Once", true, 3],
  ]);
});
