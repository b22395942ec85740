// One WebRTC connection to a conversation (SPEC §2.2): a data channel labelled
// `app-message`, an audio and a video transceiver, a complete offer (no trickle ICE)
// POSTed to the offer endpoint. Both transceivers are negotiated `sendrecv` even without
// a local track, so a microphone or camera opened later (`setLocalVideo(true)` after
// `startVideoOff`) is attached with `replaceTrack`, with no renegotiation.

import { JoinError } from "./errors.js";
import { offerUrl } from "./urls.js";

function waitForIceGathering(pc, timeoutMs, timers) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timers.clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = timers.setTimeout(done, timeoutMs); // send what we have: never wait forever
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function waitForOpen(dc, timeoutMs, timers) {
  return new Promise((resolve, reject) => {
    if (dc.readyState === "open") return resolve();
    const timer = timers.setTimeout(
      () => reject(new JoinError("the connection did not come up (ICE/DTLS timeout)")),
      timeoutMs,
    );
    dc.addEventListener("open", () => {
      timers.clearTimeout(timer);
      resolve();
    });
    dc.addEventListener("close", () => {
      timers.clearTimeout(timer);
      reject(new JoinError("the data channel closed while connecting"));
    });
  });
}

/**
 * Connect. opts: target {base, conversationId, token}, lastSeq, audioTrack, videoTrack,
 * receiveVideo, iceServers, iceGatheringTimeoutMs, connectTimeoutMs, fetch, timers,
 * and handlers onTrack(track), onMessage(data), onState(pc), onClose(reason).
 * Returns {pc, dc, senders: {audio, video}, answer} once the data channel is open.
 */
export async function connect(opts) {
  const { timers } = opts;
  const pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
  const dc = pc.createDataChannel("app-message", { ordered: true });
  const audio = pc.addTransceiver(opts.audioTrack || "audio", { direction: "sendrecv" });
  const video = pc.addTransceiver(opts.videoTrack || "video", {
    direction: opts.receiveVideo === false ? "sendonly" : "sendrecv",
  });
  const session = { pc, dc, senders: { audio: audio.sender, video: video.sender }, answer: null, closed: false };
  const close = () => {
    session.closed = true;
    try {
      pc.close();
    } catch (_) {}
  };
  session.close = close;
  pc.ontrack = (ev) => !session.closed && opts.onTrack(ev.track);
  pc.onconnectionstatechange = () => !session.closed && opts.onState(pc);
  dc.onmessage = (ev) => !session.closed && opts.onMessage(ev.data);
  dc.onclose = () => !session.closed && opts.onClose("data channel closed");
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, opts.iceGatheringTimeoutMs, timers);
    if (session.closed) throw new JoinError("left while joining");
    const url = offerUrl(opts.target, opts.lastSeq);
    let response;
    try {
      response = await opts.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
      });
    } catch (err) {
      const e = new JoinError(`cannot reach the server: ${(err && err.message) || err}`);
      e.uri = url;
      throw e;
    }
    if (!response.ok) {
      let body = {};
      try {
        body = await response.json();
      } catch (_) {}
      const message = body.error || body.message || `HTTP ${response.status}`;
      const fatal = [400, 401, 403, 404, 410].includes(response.status);
      throw new JoinError(message, { status: response.status, fatal });
    }
    session.answer = await response.json();
    if (session.closed) throw new JoinError("left while joining");
    await pc.setRemoteDescription({ type: "answer", sdp: session.answer.sdp });
    await waitForOpen(dc, opts.connectTimeoutMs, timers);
    if (session.closed) throw new JoinError("left while joining");
    return session;
  } catch (err) {
    close();
    throw err;
  }
}
