import { test } from "node:test";
import assert from "node:assert/strict";
import { findReplica, localParticipant, replicaParticipant, trackState } from "../src/participants.js";

const track = (kind, extra = {}) => ({ kind, enabled: true, muted: false, readyState: "live", ...extra });

test("track states follow Daily: playable, loading, off, blocked, interrupted", () => {
  const t = track("video");
  assert.deepEqual(trackState({ track: t, remote: true }), { subscribed: true, state: "playable", track: t, persistentTrack: t });
  const muted = track("video", { muted: true });
  assert.deepEqual(trackState({ track: muted, remote: true }), { subscribed: true, state: "loading", persistentTrack: muted });
  assert.equal(trackState({ track: t, off: true }).state, "off");
  assert.equal(trackState({ track: t, off: true }).track, undefined); // only playable has `track`
  assert.deepEqual(trackState({ blocked: { byPermissions: true } }), { subscribed: false, state: "blocked", blocked: { byPermissions: true } });
  assert.equal(trackState({ track: t, remote: true, interrupted: true }).state, "interrupted");
  assert.equal(trackState({}).state, "off");
  assert.equal(trackState({ loading: true }).state, "loading");
});

test("the replica participant: user_id contains tavus-replica, user_name is the persona", () => {
  const audio = trackState({ track: track("audio"), remote: true });
  const video = trackState({ track: track("video", { muted: true }), remote: true });
  const joinedAt = new Date(0);
  const p = replicaParticipant({ replicaId: "r-aria", name: "Greeter", joinedAt, audio, video });
  assert.equal(p.session_id, "replica");
  assert.ok(p.user_id.includes("tavus-replica"));
  assert.equal(p.user_name, "Greeter");
  assert.equal(p.local, false);
  assert.equal(p.audio, true);
  assert.equal(p.video, false); // still loading
  assert.equal(p.joined_at, joinedAt);
  assert.deepEqual(Object.keys(p.tracks), ["audio", "video", "screenAudio", "screenVideo"]);
  const local = localParticipant({ sessionId: "s1", userName: "Ann", audio, video: trackState({}) });
  assert.equal(local.user_id, "s1");
  assert.equal(local.local, true);
  assert.equal(local.video, false);
  assert.equal(findReplica({ local, replica: p }), p);
  assert.equal(findReplica({ local }), null);
});
