import { test } from "node:test";
import assert from "node:assert/strict";
import { SeqOrderer } from "../src/ordering.js";
import { FakeTimers } from "./fake-timers.js";

function harness(gapTimeoutMs = 100) {
  const timers = new FakeTimers();
  const seen = [];
  const resumes = [];
  const lost = [];
  const orderer = new SeqOrderer({
    deliver: (m) => seen.push(m.seq ?? null),
    requestResume: (s) => resumes.push(s),
    onLost: (s) => lost.push(s),
    gapTimeoutMs,
    timers,
  });
  return { timers, seen, resumes, lost, orderer };
}

test("delivers in seq order, drops duplicates, passes unsequenced messages at once", () => {
  const { seen, orderer } = harness();
  for (const seq of [5, 7, 6, 6, 5]) orderer.push({ seq });
  orderer.push({ event_type: "system.error" });
  assert.deepEqual(seen, [5, 6, 7, null]);
  assert.equal(orderer.lastSeq, 7);
  assert.equal(orderer.push({ seq: 7 }), false);
});

test("a gap asks for a replay once, and the replay fills it", () => {
  const { timers, seen, resumes, lost, orderer } = harness(100);
  orderer.push({ seq: 1 });
  orderer.push({ seq: 3 });
  timers.advance(99);
  assert.deepEqual(resumes, []);
  timers.advance(1);
  assert.deepEqual(resumes, [1]);
  orderer.push({ seq: 2 }); // the replay
  orderer.push({ seq: 3 }); // and its duplicate
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(lost, []);
  assert.equal(orderer.pending, 0);
});

test("a gap the replay cannot fill is reported lost and delivery goes on", () => {
  const { timers, seen, resumes, lost, orderer } = harness(50);
  orderer.push({ seq: 10 });
  orderer.push({ seq: 13 });
  orderer.push({ seq: 14 });
  timers.advance(50);
  timers.advance(50);
  assert.deepEqual(resumes, [10]);
  assert.deepEqual(lost, [10]);
  assert.deepEqual(seen, [10, 13, 14]);
  assert.equal(orderer.lastSeq, 14);
});

test("a baseline given before the first event makes earlier events duplicates", () => {
  const { seen, orderer } = harness();
  orderer.lastSeq = 0; // join({lastSeq: 0}): replay from the start
  orderer.push({ seq: 2 });
  assert.deepEqual(seen, []);
  orderer.push({ seq: 1 });
  assert.deepEqual(seen, [1, 2]);
  orderer.clear();
  assert.equal(orderer.lastSeq, 2);
});
