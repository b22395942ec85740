import { test } from "node:test";
import assert from "node:assert/strict";
import { createFactory } from "../src/factory.js";
import { FakeTimers } from "./fake-timers.js";

// A call object wired to a fake data channel, as if joined (no WebRTC in Node).
function joinedCall() {
  const Daily = createFactory({});
  const call = Daily.createCallObject({ gapTimeoutMs: 50 });
  const timers = new FakeTimers();
  call._env.timers = timers;
  call._orderer._timers = timers;
  const sent = [];
  call._state = "joined";
  call._target = { base: "http://h:1", conversationId: "c1", token: null };
  call._dc = { readyState: "open", send: (text) => sent.push(JSON.parse(text)) };
  return { Daily, call, sent, timers };
}

const event = (seq, extra = {}) =>
  JSON.stringify({ message_type: "conversation", event_type: "conversation.utterance", seq, turn_idx: 1, properties: { role: "user", speech: "hi" }, ...extra });

test("app-message events carry action, callClientId, data and fromId, in seq order", () => {
  const { call } = joinedCall();
  const got = [];
  call.on("app-message", (ev) => got.push(ev));
  call._onMessage(event(2));
  call._onMessage(event(4));
  call._onMessage(event(3));
  assert.deepEqual(got.map((e) => e.data.seq), [2, 3, 4]);
  assert.equal(got[0].action, "app-message");
  assert.equal(got[0].fromId, "replica");
  assert.equal(got[0].callClientId, call.callClientId);
});

test("sendAppMessage: broadcast or to the replica's session_id is sent; to others is not", () => {
  const { call, sent } = joinedCall();
  assert.equal(call.sendAppMessage({ event_type: "conversation.respond", properties: { text: "a" } }), call);
  call.sendAppMessage({ event_type: "conversation.interrupt" }, "replica");
  call.sendAppMessage({ event_type: "conversation.interrupt" }, ["someone", "replica"]);
  call.sendAppMessage({ event_type: "conversation.interrupt" }, call.participants().local.session_id);
  assert.equal(sent.length, 3);
  assert.deepEqual(sent[0], { event_type: "conversation.respond", properties: { text: "a" }, message_type: "conversation", conversation_id: "c1" });
  const fresh = createFactory({}).createCallObject();
  assert.throws(() => fresh.sendAppMessage({}), /only supported after join/);
});

test("system.error becomes a nonfatal-error; speaking events move the active speaker", () => {
  const { call } = joinedCall();
  const nonfatal = [];
  const speakers = [];
  call.on("nonfatal-error", (e) => nonfatal.push(e));
  call.on("active-speaker-change", (e) => speakers.push(e.activeSpeaker.peerId));
  call._onMessage(JSON.stringify({ event_type: "system.error", properties: { code: "invalid_json", message: "bad" } }));
  call._onMessage(event(1, { event_type: "conversation.replica.started_speaking", properties: {} }));
  assert.equal(nonfatal[0].type, "protocol-error");
  assert.equal(nonfatal[0].errorMsg, "bad");
  assert.deepEqual(speakers, ["replica"]);
  assert.deepEqual(call.getActiveSpeaker(), { peerId: "replica" });
});

test("the end of the conversation: participant-left for the replica, then left-meeting", () => {
  const { call, timers } = joinedCall();
  call._remote.present = true;
  call.replica = { replica_id: "r-aria", name: "Aria", persona_name: "Greeter" };
  assert.equal(call.participants().replica.user_name, "Greeter");
  const order = [];
  for (const name of ["participant-left", "conversation-ended", "left-meeting"]) call.on(name, (e) => order.push([e.action, e.participant?.user_name ?? e.ended]));
  call._onMessage(event(1, { event_type: "system.shutdown", properties: { shutdown_reason: "end_conversation_endpoint_hit" }, turn_idx: undefined }));
  timers.advance(1);
  assert.deepEqual(order, [["participant-left", "Greeter"], ["conversation-ended", undefined], ["left-meeting", true]]);
  assert.equal(call.meetingState(), "left-meeting");
  assert.deepEqual(Object.keys(call.participants()), ["local"]);
});

test("features openreplica lacks behave as Daily's unavailable features", async () => {
  const { call } = joinedCall();
  const seen = [];
  for (const name of ["nonfatal-error", "recording-error", "live-streaming-error"]) call.on(name, (e) => seen.push([e.action, e.type ?? null]));
  assert.equal(call.startScreenShare(), undefined);
  call.stopScreenShare();
  call.startRecording();
  call.startLiveStreaming({});
  assert.deepEqual(seen, [["nonfatal-error", "screen-share-error"], ["recording-error", null], ["live-streaming-error", null]]);
  await assert.rejects(call.startCustomTrack({}), (e) => e.errorMsg.includes("not available") && e.error.type === "not-supported");
  assert.equal(call.setBandwidth({}), call);
  assert.deepEqual(await call.preAuth({ url: "x" }), { access: { level: "full" } });
  await assert.rejects(call.startCamera(), /not supported after joining/);
});

test("meetingState, off(), once() and destroy follow daily-js", async () => {
  const Daily = createFactory({});
  const call = Daily.createCallObject();
  assert.equal(call.meetingState(), "new");
  assert.equal(Daily.getCallInstance(), call);
  let count = 0;
  const handler = () => count++;
  call.once("custom", handler);
  call.on("custom", handler).off("custom", handler);
  call.emit("custom", {});
  assert.equal(count, 0);
  const destroyed = [];
  call.on("call-instance-destroyed", (e) => destroyed.push(e.action));
  await call.destroy();
  assert.deepEqual(destroyed, ["call-instance-destroyed"]);
  assert.equal(call.isDestroyed(), true);
  assert.equal(Daily.getCallInstance(), undefined);
  await assert.rejects(call.join({ url: "http://h:1/c/c1" }), /destroy/);
});

test("join() rejects with Daily's error object when the server refuses", async () => {
  const Daily = createFactory({});
  const call = Daily.createCallObject({ audioSource: false, videoSource: false });
  const events = [];
  for (const name of ["loading", "loaded", "joining-meeting", "error", "left-meeting"]) call.on(name, (e) => events.push(e.action));
  // No RTCPeerConnection in Node: stub the connection step with a 404 from the server.
  const { JoinError } = await import("../src/errors.js");
  call._connect = async () => {
    throw new JoinError("no conversation 'c9'", { status: 404, fatal: true });
  };
  await assert.rejects(call.join({ url: "http://h:1/c/c9" }), (e) => {
    assert.equal(e.action, "error");
    assert.equal(e.errorMsg, "no conversation 'c9'");
    assert.deepEqual(e.error, { type: "no-room", msg: "no conversation 'c9'" });
    return true;
  });
  assert.deepEqual(events, ["loading", "loaded", "joining-meeting", "error", "left-meeting"]);
  assert.equal(call.meetingState(), "error");
});
