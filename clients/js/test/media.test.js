import { test } from "node:test";
import assert from "node:assert/strict";
import { cameraErrorObject, constraintsFor, openMedia } from "../src/media.js";

const domError = (name, message = name, extra = {}) => Object.assign(new Error(message), { name, ...extra });

test("browser exceptions become Daily's camera-error types", () => {
  assert.deepEqual(cameraErrorObject(domError("NotAllowedError", "Permission denied"), ["video"]), {
    type: "permissions", msg: "Permission denied", blockedBy: "user", blockedMedia: ["video"],
  });
  assert.equal(cameraErrorObject(domError("NotFoundError"), ["audio"]).type, "not-found");
  assert.equal(cameraErrorObject(domError("OverconstrainedError", "x", { constraint: "deviceId" }), ["video"]).type, "not-found");
  assert.equal(cameraErrorObject(domError("OverconstrainedError", "x", { constraint: "width" }), ["video"]).type, "constraints");
  assert.equal(cameraErrorObject(domError("NotReadableError"), ["audio", "video"]).type, "cam-mic-in-use");
  assert.equal(cameraErrorObject(domError("NotReadableError"), ["video"]).type, "cam-in-use");
  assert.equal(cameraErrorObject(domError("Weird"), ["video"]).type, "unknown");
});

test("sources: true, a device id, a track or false", () => {
  assert.equal(constraintsFor("video", false), null);
  assert.equal(constraintsFor("video", { kind: "video" }), null);
  assert.deepEqual(constraintsFor("video", "cam-2").deviceId, { exact: "cam-2" });
  assert.equal(constraintsFor("audio", true, { audio: { processor: { type: "none" } } }).noiseSuppression, false);
});

test("a failing camera still leaves the microphone", async () => {
  const calls = [];
  const md = {
    async getUserMedia(c) {
      calls.push([!!c.audio, !!c.video]);
      if (c.video) throw domError("NotFoundError", "no camera");
      return { getTracks: () => [{ kind: "audio" }] };
    },
  };
  const { tracks, errors } = await openMedia(md, { audio: {}, video: {} });
  assert.deepEqual(calls, [[true, true], [true, false], [false, true]]);
  assert.equal(tracks.audio.kind, "audio");
  assert.equal(tracks.video, null);
  assert.deepEqual(errors.map((e) => [e.kinds, e.error.type]), [[["video"], "not-found"]]);
  const none = await openMedia(undefined, { audio: {} });
  assert.equal(none.errors[0].error.type, "undefined-mediadevices");
});
