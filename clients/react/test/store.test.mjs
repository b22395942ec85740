// Unit tests of the provider's store and the turn grouping, without a browser: a small
// stand-in call object (an event emitter with participants() and meetingState()).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "node_modules", ".cache", "unit");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "..", "src", "store.ts"), join(here, "..", "src", "hooks", "useConversationTurns.ts")],
  bundle: true,
  format: "esm",
  platform: "node",
  outdir: out,
  outbase: join(here, "..", "src"),
  external: ["react", "@openreplica/daily-js"],
  logLevel: "warning",
});
const { CallStore, cameraErrorStates, MAX_EVENTS } = await import(pathToFileURL(join(out, "store.js")));
const { groupTurns } = await import(pathToFileURL(join(out, "hooks", "useConversationTurns.js")));

const track = (state, persistentTrack = null) => ({ state, persistentTrack, subscribed: true });
const participant = (id, local, extra = {}) => ({
  session_id: id,
  user_id: local ? "u-local" : "tavus-replica-r1",
  user_name: local ? "me" : "Aria",
  local,
  tracks: { audio: track("playable", {}), video: track("off") },
  ...extra,
});

class FakeCall {
  constructor() {
    this.state = "new";
    this.list = {};
  }
  on() {}
  off() {}
  participants() {
    return this.list;
  }
  meetingState() {
    return this.state;
  }
}

function joinedStore() {
  const call = new FakeCall();
  const store = new CallStore();
  store.attach(call);
  call.state = "joining-meeting";
  store.apply("joining-meeting", { action: "joining-meeting" });
  call.state = "joined-meeting";
  call.list = { local: participant("L", true) };
  store.apply("joined-meeting", { action: "joined-meeting", participants: call.list });
  return { call, store };
}

test("participants follow join, participant events and leave", () => {
  const { call, store } = joinedStore();
  assert.equal(store.getState().meetingState, "joined-meeting");
  assert.equal(store.getState().localId, "L");
  call.list = { local: participant("L", true), R: participant("R", false) };
  store.apply("participant-joined", { action: "participant-joined", participant: call.list.R });
  assert.deepEqual(store.getState().ids, ["L", "R"]);
  store.apply("active-speaker-change", { action: "active-speaker-change", activeSpeaker: { peerId: "R" } });
  assert.equal(store.getState().activeId, "R");
  assert.ok(store.getState().participants.R.last_active instanceof Date);
  const updated = participant("R", false, { user_name: "Aria 2" });
  call.list = { local: call.list.local, R: updated };
  store.apply("participant-updated", { action: "participant-updated", participant: updated });
  assert.equal(store.getState().participants.R.user_name, "Aria 2");
  assert.ok(store.getState().participants.R.last_active, "last_active survives an update");
  call.list = { local: call.list.local };
  store.apply("participant-left", { action: "participant-left", participant: updated });
  assert.deepEqual(store.getState().ids, ["L"]);
  assert.equal(store.getState().activeId, null);
  // After leaving, daily-js still lists the local participant: the ids stay empty.
  call.state = "left-meeting";
  store.apply("left-meeting", { action: "left-meeting" });
  store.apply("participant-updated", { action: "participant-updated", participant: call.list.local });
  assert.deepEqual(store.getState().ids, []);
  assert.equal(store.getState().localId, "");
});

test("sequenced app messages are kept in seq order without duplicates; a new join clears them", () => {
  const { call, store } = joinedStore();
  const ev = (seq) => ({ action: "app-message", data: { seq, event_type: "conversation.utterance" }, fromId: "R" });
  for (const seq of [1, 3, 2, 3, 5, 4]) store.apply("app-message", ev(seq));
  store.apply("app-message", { action: "app-message", data: { event_type: "system.error" } }); // no seq
  store.apply("app-message", { action: "app-message", data: "not an object" });
  assert.deepEqual(store.getState().events.map((e) => e.seq), [1, 2, 3, 4, 5]);
  call.state = "left-meeting";
  store.apply("left-meeting", { action: "left-meeting" });
  assert.equal(store.getState().events.length, 5, "readable after leaving");
  call.state = "joining-meeting";
  store.apply("joining-meeting", { action: "joining-meeting" });
  assert.equal(store.getState().events.length, 0);
  for (let seq = 1; seq <= MAX_EVENTS + 5; seq += 1) store.apply("app-message", ev(seq));
  assert.equal(store.getState().events.length, MAX_EVENTS);
  assert.equal(store.getState().events[0].seq, 6);
});

test("camera-error maps to device states as daily-react does", () => {
  assert.deepEqual(cameraErrorStates({ type: "cam-in-use" }), { camState: "in-use" });
  assert.deepEqual(cameraErrorStates({ type: "permissions", blockedMedia: ["video", "audio"] }), {
    camState: "blocked",
    micState: "blocked",
  });
  assert.deepEqual(cameraErrorStates({ type: "not-found", missingMedia: ["audio"] }), { micState: "not-found" });
  assert.deepEqual(cameraErrorStates({ type: "something-new" }), { camState: "unknown", micState: "unknown" });
  const { store } = joinedStore();
  store.apply("camera-error", { action: "camera-error", error: { type: "cam-mic-in-use" } });
  assert.equal(store.getState().camState, "in-use");
  assert.equal(store.getState().micState, "in-use");
  assert.equal(store.getState().cameraError.type, "cam-mic-in-use");
});

test("groupTurns groups by turn_idx, then inference_id, and keeps the final text", () => {
  const e = (seq, event_type, extra = {}, properties = {}) => ({ seq, event_type, properties, ...extra });
  const turns = groupTurns([
    e(1, "system.replica_joined"),
    e(2, "conversation.utterance", { turn_idx: 1 }, { role: "user", speech: "hi" }),
    e(3, "conversation.utterance.streaming", { turn_idx: 1, inference_id: "a" }, { role: "replica", speech: "You" }),
    e(4, "conversation.utterance", { turn_idx: 1, inference_id: "a" }, { role: "replica", speech: "You said: hi" }),
    e(5, "conversation.utterance.streaming", { turn_idx: 1, inference_id: "a" }, { role: "replica", speech: "You said", is_interrupted: true }),
    e(6, "conversation.replica.started_speaking", { inference_id: "b" }),
  ]);
  assert.equal(turns.length, 2);
  assert.deepEqual(
    turns.map((t) => [t.turn_idx, t.inference_ids, t.user, t.replica, t.interrupted, t.events.map((x) => x.seq)]),
    [
      [1, ["a"], "hi", "You said: hi", true, [2, 3, 4, 5]],
      [null, ["b"], null, null, false, [6]],
    ],
  );
});
