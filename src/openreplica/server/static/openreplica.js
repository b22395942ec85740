/* @openreplica/daily-js 0.2.0 — a daily-js compatible client for openreplica. Built from clients/js with esbuild; do not edit. */

// src/emitter.js
var Emitter = class {
  constructor() {
    this._handlers = /* @__PURE__ */ new Map();
  }
  /** Add a handler; returns `this` for chaining (as daily-js does). */
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, /* @__PURE__ */ new Set());
    this._handlers.get(event).add(handler);
    return this;
  }
  once(event, handler) {
    const wrapper = (payload) => {
      this.off(event, wrapper);
      handler(payload);
    };
    wrapper.original = handler;
    return this.on(event, wrapper);
  }
  /** Remove one handler (also one added with `once`); without a handler, all of them. */
  off(event, handler) {
    const set = this._handlers.get(event);
    if (!set) return this;
    if (!handler) set.clear();
    for (const h of set) if (h === handler || h.original === handler) set.delete(h);
    return this;
  }
  emit(event, payload) {
    const set = this._handlers.get(event);
    if (!set) return false;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (err) {
        console.error(`openreplica: "${event}" handler failed`, err);
      }
    }
    return true;
  }
  removeAllListeners() {
    this._handlers.clear();
    return this;
  }
};

// src/errors.js
var JoinError = class extends Error {
  constructor(message, { status = 0, fatal = false, on = "join" } = {}) {
    super(message);
    this.name = "JoinError";
    this.status = status;
    this.fatal = fatal;
    this.on = on;
  }
};
var FATAL_TYPES = {
  401: "not-allowed",
  // a missing or wrong meeting token
  403: "not-allowed",
  404: "no-room",
  // no such conversation
  410: "exp-room"
  // the conversation has ended
};
function fatalErrorEvent(err) {
  const message = err && err.message || String(err || "error");
  const status = err && err.status || 0;
  const type = FATAL_TYPES[status];
  const error = type ? { type, msg: message } : {
    type: "connection-error",
    msg: message,
    details: { on: err && err.on || "join", sourceError: { message, status }, uri: err && err.uri || void 0 }
  };
  return { errorMsg: message, error, status };
}
function nonFatal(type, errorMsg, details) {
  return details === void 0 ? { type, errorMsg } : { type, errorMsg, details };
}

// src/media.js
function constraintsFor(kind, source, inputSettings) {
  if (source === false || source === null || source === void 0) return null;
  if (typeof source === "object") return null;
  const base = kind === "audio" ? { echoCancellation: true, autoGainControl: true, noiseSuppression: noiseSuppression(inputSettings) } : { width: { ideal: 640 }, height: { ideal: 480 } };
  if (typeof source === "string") base.deviceId = { exact: source };
  return base;
}
function noiseSuppression(inputSettings) {
  const type = inputSettings && inputSettings.audio && inputSettings.audio.processor && inputSettings.audio.processor.type;
  return type !== "none";
}
function cameraErrorObject(err, kinds) {
  const name = err && err.name || "";
  const msg = err && err.message || String(err);
  const media = kinds.slice();
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return { type: "permissions", msg, blockedBy: /system/i.test(msg) ? "browser" : "user", blockedMedia: media };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError") {
    return { type: "not-found", msg, missingMedia: media };
  }
  if (name === "OverconstrainedError" || name === "ConstraintNotSatisfiedError") {
    if (err.constraint === "deviceId") return { type: "not-found", msg, missingMedia: media };
    return { type: "constraints", msg, reason: "invalid" };
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    const type = media.length === 2 ? "cam-mic-in-use" : media[0] === "video" ? "cam-in-use" : "mic-in-use";
    return { type, msg };
  }
  if (name === "TypeError") return { type: "constraints", msg, reason: "none-specified" };
  return { type: "unknown", msg };
}
function blockedBy(error) {
  if (error.type === "permissions") return { byPermissions: true };
  if (error.type === "not-found") return { byDeviceMissing: true };
  if (/in-use/.test(error.type)) return { byDeviceInUse: true };
  return { byDeviceMissing: true };
}
async function openMedia(mediaDevices, wants) {
  const tracks = { audio: null, video: null };
  const errors = [];
  const kinds = ["audio", "video"].filter((k) => wants[k]);
  if (kinds.length === 0) return { tracks, errors };
  if (!mediaDevices || typeof mediaDevices.getUserMedia !== "function") {
    errors.push({
      kinds,
      error: { type: "undefined-mediadevices", msg: "navigator.mediaDevices is not available (needs https or localhost)" }
    });
    return { tracks, errors };
  }
  const request = async (ks) => {
    const stream = await mediaDevices.getUserMedia({
      audio: ks.includes("audio") ? wants.audio : false,
      video: ks.includes("video") ? wants.video : false
    });
    for (const track of stream.getTracks()) tracks[track.kind] = track;
  };
  try {
    await request(kinds);
  } catch (err) {
    if (kinds.length === 1) {
      errors.push({ kinds, error: cameraErrorObject(err, kinds) });
    } else {
      for (const kind of kinds) {
        try {
          await request([kind]);
        } catch (err2) {
          errors.push({ kinds: [kind], error: cameraErrorObject(err2, [kind]) });
        }
      }
    }
  }
  return { tracks, errors };
}
async function deviceInfos(mediaDevices, tracks) {
  const result = { camera: {}, mic: {}, speaker: {} };
  if (!mediaDevices || typeof mediaDevices.enumerateDevices !== "function") return result;
  let devices = [];
  try {
    devices = await mediaDevices.enumerateDevices();
  } catch (_) {
    return result;
  }
  const byTrack = (track, kind) => {
    if (!track || typeof track.getSettings !== "function") return {};
    const id = track.getSettings().deviceId;
    return devices.find((d) => d.kind === kind && d.deviceId === id) || {};
  };
  result.camera = byTrack(tracks.video, "videoinput");
  result.mic = byTrack(tracks.audio, "audioinput");
  result.speaker = devices.find((d) => d.kind === "audiooutput" && d.deviceId === "default") || devices.find((d) => d.kind === "audiooutput") || {};
  return result;
}

// src/participants.js
var REPLICA_SESSION_ID = "replica";
var NO_TRACK = Object.freeze({ subscribed: false, state: "off", off: { byUser: true } });
function trackState({ track = null, off = false, blocked = null, loading = false, interrupted = false, remote = false }) {
  const subscribed = remote ? true : false;
  if (blocked) return { subscribed, state: "blocked", blocked: { ...blocked } };
  if (!track) {
    if (loading) return { subscribed, state: "loading" };
    return { subscribed, state: "off", off: { byUser: !remote } };
  }
  if (off || track.enabled === false) {
    return { subscribed, state: "off", off: { byUser: true }, persistentTrack: track };
  }
  if (interrupted) return { subscribed, state: "interrupted", persistentTrack: track };
  if (track.readyState === "ended") return { subscribed, state: "off", off: { byUser: !remote } };
  if (remote && track.muted) return { subscribed, state: "loading", persistentTrack: track };
  return { subscribed, state: "playable", track, persistentTrack: track };
}
function participant({ sessionId, userId, userName, local, joinedAt, audio, video, owner = false }) {
  const audioOn = audio.state === "playable" || local && audio.state === "loading";
  const videoOn = video.state === "playable" || local && video.state === "loading";
  return {
    session_id: sessionId,
    user_id: userId,
    user_name: userName,
    local,
    owner,
    joined_at: joinedAt || void 0,
    will_eject_at: /* @__PURE__ */ new Date(0),
    audio: audioOn,
    video: videoOn,
    screen: false,
    record: false,
    permissions: { hasPresence: true, canSend: true, canAdmin: false },
    tracks: { audio, video, screenAudio: { ...NO_TRACK }, screenVideo: { ...NO_TRACK } },
    // Deprecated in daily-js but still read by older apps.
    audioTrack: audio.persistentTrack || false,
    videoTrack: video.persistentTrack || false,
    screenVideoTrack: false,
    screenAudioTrack: false,
    cam_info: {},
    screen_info: {}
  };
}
function localParticipant({ sessionId, userName = "", userData, joinedAt, audio, video }) {
  const p = participant({ sessionId, userId: sessionId, userName, local: true, joinedAt, audio, video, owner: false });
  if (userData !== void 0) p.userData = userData;
  return p;
}
function replicaParticipant({ replicaId, name, joinedAt, audio, video }) {
  return participant({
    sessionId: REPLICA_SESSION_ID,
    userId: `tavus-replica-${replicaId || "replica"}`,
    userName: name || "Replica",
    local: false,
    joinedAt,
    audio,
    video
  });
}
function findReplica(participants) {
  return Object.values(participants).find((p) => !p.local && String(p.user_id).includes("tavus-replica")) || null;
}

// src/ordering.js
var SeqOrderer = class {
  /**
   * deliver(msg): called for each message, in order.
   * requestResume(lastSeq): ask the server for everything after lastSeq.
   * onLost(lastSeq): events after lastSeq could not be recovered.
   */
  constructor({ deliver, requestResume, onLost, gapTimeoutMs = 1e3, timers = globalThis }) {
    this._deliver = deliver;
    this._requestResume = requestResume;
    this._onLost = onLost;
    this._gapTimeoutMs = gapTimeoutMs;
    this._timers = timers;
    this._pending = /* @__PURE__ */ new Map();
    this._timer = null;
    this._resumed = false;
    this.lastSeq = null;
  }
  /** Take one message off the wire; returns false when it was a duplicate. */
  push(msg) {
    if (typeof msg.seq !== "number") {
      this._deliver(msg);
      return true;
    }
    if (this.lastSeq === null) this.lastSeq = msg.seq - 1;
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
};

// src/urls.js
var CONVERSATION_PATH = /^(.*)\/c\/([^/]+)\/?$/;
var HOSTED_HOST = /(^|\.)daily\.co$/i;
var SERVED_SCRIPT = /\/static\/openreplica(\.classic)?(\.min)?\.js$/;
var UrlError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "UrlError";
  }
};
function stripSlash(url) {
  return url.replace(/\/+$/, "");
}
function serverOfScript(scriptUrl) {
  if (!scriptUrl) return null;
  try {
    const u = new URL(scriptUrl);
    const match = u.pathname.match(SERVED_SCRIPT);
    if (!match) return null;
    return stripSlash(`${u.origin}${u.pathname.slice(0, match.index)}`);
  } catch (_) {
    return null;
  }
}
function parseConversationUrl(url, token, pageUrl) {
  const u = new URL(url, pageUrl);
  const match = u.pathname.match(CONVERSATION_PATH);
  if (!match) throw new UrlError(`not a conversation_url (…/c/ID): ${url}`);
  return {
    base: `${u.origin}${match[1]}`,
    conversationId: decodeURIComponent(match[2]),
    token: token ?? u.searchParams.get("t") ?? null
  };
}
function resolveJoinTarget(url, { token, server, pageUrl } = {}) {
  if (typeof url !== "string" || url.trim() === "") {
    throw new UrlError("join() needs a url: the conversation_url, or a room URL with openreplicaServer set");
  }
  const text = url.trim();
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  if (absolute) {
    const u = new URL(text);
    if (!HOSTED_HOST.test(u.hostname)) return parseConversationUrl(text, token, pageUrl);
    const id = u.pathname.split("/").filter(Boolean)[0];
    if (!id) throw new UrlError(`no room name in ${url}`);
    return hostedTarget(id, token ?? u.searchParams.get("t"), server, url);
  }
  if (text.includes("/")) return parseConversationUrl(text, token, pageUrl);
  return hostedTarget(text, token, server, url);
}
function hostedTarget(id, token, server, url) {
  if (!server) {
    throw new UrlError(
      `${url} names a hosted room: tell the library where openreplica runs with createCallObject({ openreplicaServer: 'http://HOST:PORT' }) or window.OPENREPLICA_SERVER`
    );
  }
  return { base: stripSlash(new URL(server).href), conversationId: decodeURIComponent(id), token: token ?? null };
}
function offerUrl({ base, conversationId, token }, lastSeq) {
  const query = new URLSearchParams();
  if (token) query.set("t", token);
  if (lastSeq !== null && lastSeq !== void 0) query.set("last_seq", String(lastSeq));
  const qs = query.toString();
  return `${base}/v2/conversations/${encodeURIComponent(conversationId)}/webrtc/offer${qs ? `?${qs}` : ""}`;
}

// src/signalling.js
function waitForIceGathering(pc, timeoutMs, timers) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timers.clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = timers.setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
function waitForOpen(dc, timeoutMs, timers) {
  return new Promise((resolve, reject) => {
    if (dc.readyState === "open") return resolve();
    const timer = timers.setTimeout(
      () => reject(new JoinError("the connection did not come up (ICE/DTLS timeout)")),
      timeoutMs
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
async function connect(opts) {
  const { timers } = opts;
  const pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
  const dc = pc.createDataChannel("app-message", { ordered: true });
  const audio = pc.addTransceiver(opts.audioTrack || "audio", { direction: "sendrecv" });
  const video = pc.addTransceiver(opts.videoTrack || "video", {
    direction: opts.receiveVideo === false ? "sendonly" : "sendrecv"
  });
  const session = { pc, dc, senders: { audio: audio.sender, video: video.sender }, answer: null, closed: false };
  const close = () => {
    session.closed = true;
    try {
      pc.close();
    } catch (_) {
    }
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
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" })
      });
    } catch (err) {
      const e = new JoinError(`cannot reach the server: ${err && err.message || err}`);
      e.uri = url;
      throw e;
    }
    if (!response.ok) {
      let body = {};
      try {
        body = await response.json();
      } catch (_) {
      }
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

// src/turns.js
var TurnGrouper = class {
  constructor() {
    this._turns = /* @__PURE__ */ new Map();
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
};

// src/audio-levels.js
var Meter = class {
  constructor(timers, getTrack, interval, report) {
    this.level = 0;
    this._timers = timers;
    this._getTrack = getTrack;
    this._report = report;
    this._track = null;
    this._ctx = null;
    this._source = null;
    this._analyser = null;
    this._buffer = null;
    this._timer = timers.setInterval(() => this._tick(), Math.max(20, interval));
  }
  _tick() {
    const track = this._getTrack();
    if (track !== this._track) this._attach(track);
    let peak = 0;
    if (this._analyser) {
      this._analyser.getFloatTimeDomainData(this._buffer);
      for (const v of this._buffer) peak = Math.max(peak, Math.abs(v));
    }
    this.level = Math.min(1, peak);
    this._report(this.level);
  }
  _attach(track) {
    this._detach();
    this._track = track;
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!track || !Ctx) return;
    this._ctx = new Ctx();
    this._ctx.resume().catch(() => {
    });
    this._analyser = this._ctx.createAnalyser();
    this._analyser.fftSize = 1024;
    this._buffer = new Float32Array(this._analyser.fftSize);
    this._source = this._ctx.createMediaStreamSource(new MediaStream([track]));
    this._source.connect(this._analyser);
  }
  _detach() {
    if (this._source) this._source.disconnect();
    if (this._ctx) this._ctx.close().catch(() => {
    });
    this._ctx = this._source = this._analyser = null;
  }
  stop() {
    this._timers.clearInterval(this._timer);
    this._detach();
    this.level = 0;
  }
};
var AudioLevels = class {
  constructor(timers) {
    this._timers = timers;
    this._local = null;
    this._remote = null;
  }
  get local() {
    return this._local ? this._local.level : 0;
  }
  get remote() {
    return this._remote ? this._remote.level : 0;
  }
  startLocal(getTrack, interval, report) {
    this.stopLocal();
    this._local = new Meter(this._timers, getTrack, interval, report);
  }
  startRemote(getTrack, interval, report) {
    this.stopRemote();
    this._remote = new Meter(this._timers, getTrack, interval, report);
  }
  stopLocal() {
    if (this._local) this._local.stop();
    this._local = null;
  }
  stopRemote() {
    if (this._remote) this._remote.stop();
    this._remote = null;
  }
  stopAll() {
    this.stopLocal();
    this.stopRemote();
  }
};

// src/call-object.js
var DEFAULTS = {
  audioSource: true,
  videoSource: true,
  receiveVideo: true,
  iceServers: [],
  reconnect: true,
  iceGatheringTimeoutMs: 3e3,
  connectTimeoutMs: 15e3,
  gapTimeoutMs: 1e3,
  maxReconnectDelayMs: 8e3
};
var MEETING_STATES = {
  new: "new",
  loading: "loading",
  joining: "joining-meeting",
  joined: "joined-meeting",
  reconnecting: "joined-meeting",
  left: "left-meeting",
  ended: "left-meeting",
  error: "error"
};
var nextClientId = 0;
function newSessionId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
function isTrack(value) {
  return !!value && typeof value === "object" && typeof value.kind === "string";
}
var CallObject = class extends Emitter {
  /**
   * properties: daily-js DailyFactoryOptions (url, token, userName, userData,
   * audioSource, videoSource, startAudioOff, startVideoOff, inputSettings, dailyConfig)
   * plus openreplica's: openreplicaServer, receiveVideo, iceServers, reconnect,
   * iceGatheringTimeoutMs, connectTimeoutMs, gapTimeoutMs, maxReconnectDelayMs.
   * env (from the factory): server (page default), timers, fetch, mediaDevices, pageUrl.
   */
  constructor(properties = {}, env = {}) {
    super();
    this._env = {
      timers: env.timers || globalThis,
      fetch: env.fetch || ((...args) => globalThis.fetch(...args)),
      mediaDevices: env.mediaDevices || (() => globalThis.navigator && globalThis.navigator.mediaDevices),
      server: env.server || (() => null),
      pageUrl: env.pageUrl || (() => globalThis.location ? globalThis.location.href : void 0)
    };
    this.properties = { ...DEFAULTS, ...properties };
    this.options = this.properties;
    this.callClientId = `openreplica-${Date.now()}-${nextClientId++}`;
    this._state = "new";
    this._destroyed = false;
    this._target = null;
    this._session = null;
    this._dc = null;
    this._sessionId = newSessionId();
    this._joinedAt = null;
    this._local = { audio: null, video: null, owned: /* @__PURE__ */ new Set(), off: { audio: false, video: false }, blocked: { audio: null, video: null }, started: false };
    this._remote = { audio: null, video: null, present: false, joinedAt: null, announced: /* @__PURE__ */ new Set(), interrupted: false };
    this._outbox = [];
    this._attempt = 0;
    this._reconnectTimer = null;
    this._disconnectTimer = null;
    this._activeSpeaker = null;
    this._turns = new TurnGrouper();
    this._levels = new AudioLevels(this._env.timers);
    this._orderer = new SeqOrderer({
      deliver: (msg) => this._deliver(msg),
      requestResume: (lastSeq) => this.resume(lastSeq),
      onLost: (lastSeq) => this._emitEvent("nonfatal-error", nonFatal("gap", `events after seq ${lastSeq} were lost`, { lastSeq })),
      gapTimeoutMs: this.properties.gapTimeoutMs,
      timers: this._env.timers
    });
    this.replica = { replica_id: null, name: null, persona_name: null };
  }
  // ---------------------------------------------------------------- events
  /** Emit a Daily-shaped event: `action` and `callClientId` on every payload. */
  _emitEvent(action, fields = {}) {
    return this.emit(action, { action, callClientId: this.callClientId, ...fields });
  }
  _alive(method) {
    if (this._destroyed) {
      throw new Error(`Use after destroy: ${method}() called on a destroyed call object`);
    }
  }
  // ---------------------------------------------------------------- state
  /** Daily's meeting state: new | loading | loaded | joining-meeting | joined-meeting |
   * left-meeting | error (synchronous, https://docs.daily.co/reference/daily-js/instance-methods/meeting-state). */
  meetingState() {
    return MEETING_STATES[this._state];
  }
  /** openreplica's finer state: new | joining | joined | reconnecting | left | ended | error. */
  get state() {
    return this._state;
  }
  get conversationId() {
    return this._target ? this._target.conversationId : null;
  }
  /** The last `seq` delivered to "app-message" (what a reconnect resumes from). */
  get lastSeq() {
    return this._orderer.lastSeq;
  }
  isDestroyed() {
    return this._destroyed;
  }
  _setState(state, detail = {}) {
    if (this._state === state) return;
    const previous = this._state;
    this._state = state;
    this._emitEvent("state-changed", { state, previous, ...detail });
  }
  // ---------------------------------------------------------------- participants
  _localTrackState(kind) {
    return trackState({ track: this._local[kind], off: this._local.off[kind], blocked: this._local.blocked[kind] });
  }
  _localParticipant() {
    return localParticipant({
      sessionId: this._sessionId,
      userName: this.properties.userName || "",
      userData: this.properties.userData,
      joinedAt: this._joinedAt,
      audio: this._localTrackState("audio"),
      video: this._localTrackState("video")
    });
  }
  _replicaParticipant() {
    const remote = this._remote;
    return replicaParticipant({
      replicaId: this.replica.replica_id,
      name: this.replica.persona_name || this.replica.name,
      joinedAt: remote.joinedAt,
      audio: trackState({ track: remote.audio, remote: true, interrupted: remote.interrupted }),
      video: trackState({ track: remote.video, remote: true, interrupted: remote.interrupted })
    });
  }
  /** {local, [session_id]: participant} — the replica while it is in the call. */
  participants() {
    this._alive("participants");
    const result = { local: this._localParticipant() };
    if (this._remote.present) result[REPLICA_SESSION_ID] = this._replicaParticipant();
    return result;
  }
  participantCounts() {
    return { present: this._remote.present ? 2 : 1, hidden: 0 };
  }
  _localUpdated() {
    this._emitEvent("participant-updated", { participant: this._localParticipant() });
  }
  _replicaUpdated() {
    if (this._remote.present) this._emitEvent("participant-updated", { participant: this._replicaParticipant() });
  }
  // ---------------------------------------------------------------- local media
  _sourceFor(kind) {
    const source = this.properties[`${kind}Source`];
    return source === void 0 ? true : source;
  }
  /** Open the microphone and camera as the properties ask (Daily's startCamera step). */
  async _openLocalMedia() {
    const wants = {};
    for (const kind of ["audio", "video"]) {
      const source = this._sourceFor(kind);
      const startOff = kind === "audio" ? this.properties.startAudioOff : this.properties.startVideoOff;
      if (isTrack(source)) {
        this._local[kind] = source;
      } else if (source === false) {
        this._local[kind] = null;
      } else if (startOff) {
        this._local.off[kind] = true;
      } else if (!this._local[kind]) {
        wants[kind] = constraintsFor(kind, source, this.properties.inputSettings);
      }
    }
    this._reportInputSettings();
    const opened = await this._open(wants);
    this._local.started = true;
    if (opened) this._emitEvent("started-camera", {});
    this._emitEvent("local-media", { audio: this._local.audio, video: this._local.video });
  }
  /** Open what `wants` asks for; errors become `camera-error`. True when all opened. */
  async _open(wants) {
    const kinds = Object.keys(wants).filter((k) => wants[k]);
    if (kinds.length === 0) return true;
    const { tracks, errors } = await openMedia(this._env.mediaDevices(), wants);
    for (const kind of kinds) {
      if (!tracks[kind]) continue;
      this._local.owned.add(tracks[kind]);
      this._local[kind] = tracks[kind];
      this._local.blocked[kind] = null;
      this._local.off[kind] = false;
    }
    for (const { kinds: failed, error } of errors) {
      for (const kind of failed) this._local.blocked[kind] = blockedBy(error);
      this._emitEvent("camera-error", {
        errorMsg: { errorMsg: error.msg, audioOk: !!this._local.audio, videoOk: !!this._local.video },
        error
      });
    }
    return errors.length === 0;
  }
  _reportInputSettings() {
    const processor = this.properties.inputSettings && this.properties.inputSettings.video && this.properties.inputSettings.video.processor;
    if (processor && processor.type && processor.type !== "none") {
      this._emitEvent("nonfatal-error", nonFatal("input-settings-error", `video processor "${processor.type}" is not available on openreplica`));
    }
  }
  /** Attach the current local track of `kind` to the connection (no renegotiation). */
  async _attach(kind) {
    const sender = this._session && this._session.senders[kind];
    if (sender) {
      try {
        await sender.replaceTrack(this._local[kind] || null);
      } catch (err) {
        console.warn(`openreplica: could not attach the ${kind} track`, err);
      }
    }
  }
  _setLocal(kind, enabled) {
    this._alive(kind === "audio" ? "setLocalAudio" : "setLocalVideo");
    const on = !!enabled;
    const track = this._local[kind];
    this._local.off[kind] = !on;
    if (track) {
      track.enabled = on;
      this._localUpdated();
      return this;
    }
    if (!on) {
      this._localUpdated();
      return this;
    }
    const source = this._sourceFor(kind);
    const constraints = constraintsFor(kind, source === false ? true : source, this.properties.inputSettings);
    this._localUpdated();
    this._open({ [kind]: constraints || true }).then(async () => {
      if (this._destroyed) return;
      if (this._local.off[kind] && this._local[kind]) this._local[kind].enabled = false;
      await this._attach(kind);
      if (this._local[kind] && (this._state === "joined" || this._state === "reconnecting")) {
        this._emitEvent("track-started", { participant: this._localParticipant(), track: this._local[kind], type: kind });
      }
      this._localUpdated();
    });
    return this;
  }
  /** Sync, returns this (daily-js); a device never opened is opened. */
  setLocalAudio(enabled) {
    return this._setLocal("audio", enabled);
  }
  setLocalVideo(enabled) {
    return this._setLocal("video", enabled);
  }
  localAudio() {
    return !!(this._local.audio && this._local.audio.enabled && !this._local.off.audio);
  }
  localVideo() {
    return !!(this._local.video && this._local.video.enabled && !this._local.off.video);
  }
  /** Open camera and microphone before joining (a "hair check"); resolves with
   * DailyDeviceInfos. Daily refuses it once joined: use setLocalVideo/Audio then. */
  async startCamera(properties = {}) {
    this._alive("startCamera");
    if (["joining", "joined", "reconnecting"].includes(this._state)) {
      throw new Error(
        "startCamera() not supported after joining a meeting. Did you mean to use setLocalAudio() and/or setLocalVideo() instead?"
      );
    }
    Object.assign(this.properties, properties);
    await this._openLocalMedia();
    this._localUpdated();
    return deviceInfos(this._env.mediaDevices(), this._local);
  }
  async getInputDevices() {
    this._alive("getInputDevices");
    return deviceInfos(this._env.mediaDevices(), this._local);
  }
  async enumerateDevices() {
    this._alive("enumerateDevices");
    const md = this._env.mediaDevices();
    return { devices: md && md.enumerateDevices ? await md.enumerateDevices() : [] };
  }
  /** Switch microphone and/or camera (device ids or tracks); resolves DailyDeviceInfos. */
  async setInputDevicesAsync({ audioDeviceId, videoDeviceId, audioSource, videoSource } = {}) {
    this._alive("setInputDevicesAsync");
    const changes = { audio: audioSource !== void 0 ? audioSource : audioDeviceId, video: videoSource !== void 0 ? videoSource : videoDeviceId };
    for (const kind of ["audio", "video"]) {
      const value = changes[kind];
      if (value === void 0 || value === null) continue;
      this.properties[`${kind}Source`] = value;
      const old = this._local[kind];
      if (old && this._local.owned.has(old)) {
        old.stop();
        this._local.owned.delete(old);
      }
      this._local[kind] = null;
      if (isTrack(value)) this._local[kind] = value;
      else if (value !== false) await this._open({ [kind]: constraintsFor(kind, value, this.properties.inputSettings) });
      if (this._local[kind] && this._local.off[kind]) this._local[kind].enabled = false;
      await this._attach(kind);
    }
    const devices = await deviceInfos(this._env.mediaDevices(), this._local);
    this._emitEvent("selected-devices-updated", { devices });
    this._localUpdated();
    return devices;
  }
  async setOutputDeviceAsync() {
    return deviceInfos(this._env.mediaDevices(), this._local);
  }
  async cycleCamera() {
    return { device: null };
  }
  async cycleMic() {
    return { device: null };
  }
  async updateInputSettings(inputSettings) {
    this._alive("updateInputSettings");
    this.properties.inputSettings = { ...this.properties.inputSettings || {}, ...inputSettings };
    this._reportInputSettings();
    this._emitEvent("input-settings-updated", { inputSettings: this.properties.inputSettings });
    return { inputSettings: this.properties.inputSettings };
  }
  async getInputSettings() {
    return this.properties.inputSettings || {};
  }
  async setUserName(name) {
    this._alive("setUserName");
    this.properties.userName = String(name);
    this._localUpdated();
    return { userName: this.properties.userName };
  }
  async setUserData(data) {
    this._alive("setUserData");
    this.properties.userData = data;
    this._localUpdated();
    return { userData: data };
  }
  /** Turn local audio/video on or off through Daily's generic updater (local only). */
  updateParticipant(sessionId, updates = {}) {
    this._alive("updateParticipant");
    if (sessionId === "local" || sessionId === this._sessionId) {
      if ("setAudio" in updates) this.setLocalAudio(updates.setAudio);
      if ("setVideo" in updates) this.setLocalVideo(updates.setVideo);
    }
    return this;
  }
  updateParticipants(updates = {}) {
    for (const [id, u] of Object.entries(updates)) this.updateParticipant(id, u);
    return this;
  }
  // ---------------------------------------------------------------- audio levels
  async startLocalAudioLevelObserver(interval = 100) {
    this._alive("startLocalAudioLevelObserver");
    this._levels.startLocal(() => this._local.audio, interval, (audioLevel) => this._emitEvent("local-audio-level", { audioLevel }));
  }
  stopLocalAudioLevelObserver() {
    this._levels.stopLocal();
  }
  getLocalAudioLevel() {
    return this._levels.local;
  }
  async startRemoteParticipantsAudioLevelObserver(interval = 100) {
    this._alive("startRemoteParticipantsAudioLevelObserver");
    this._levels.startRemote(
      () => this._remote.audio,
      interval,
      (level) => this._emitEvent("remote-participants-audio-level", { participantsAudioLevel: { [REPLICA_SESSION_ID]: level } })
    );
  }
  stopRemoteParticipantsAudioLevelObserver() {
    this._levels.stopRemote();
  }
  getRemoteParticipantsAudioLevel() {
    return this._remote.present ? { [REPLICA_SESSION_ID]: this._levels.remote } : {};
  }
  getActiveSpeaker() {
    return this._activeSpeaker ? { peerId: this._activeSpeaker } : {};
  }
  _setActiveSpeaker(peerId) {
    if (this._activeSpeaker === peerId) return;
    this._activeSpeaker = peerId;
    this._emitEvent("active-speaker-change", { activeSpeaker: { peerId } });
  }
  // ---------------------------------------------------------------- join / leave
  /** Join: resolves with {local} (Daily's participants object of the local participant);
   * rejects with the `error` event object when the server refuses or cannot be reached.
   * Our extra option: `lastSeq` (0 replays the whole retained conversation first). */
  async join(properties = {}) {
    this._alive("join");
    if (["joining", "joined", "reconnecting"].includes(this._state)) {
      console.warn("already joined meeting, call leave() before joining again");
      return void 0;
    }
    const { lastSeq, ...dailyProperties } = properties;
    Object.assign(this.properties, dailyProperties);
    this._target = resolveJoinTarget(this.properties.url, {
      token: this.properties.token,
      server: this.properties.openreplicaServer || this._env.server(),
      pageUrl: this._env.pageUrl()
    });
    this._orderer.clear();
    this._orderer.lastSeq = typeof lastSeq === "number" ? lastSeq : null;
    this._turns = new TurnGrouper();
    this._outbox = [];
    if (this._state === "new") {
      this._setState("loading");
      this._emitEvent("loading", {});
      this._emitEvent("loaded", {});
    }
    this._sessionId = newSessionId();
    this._setState("joining");
    this._emitEvent("joining-meeting", {});
    try {
      if (!this._local.started || !this._local.audio && !this._local.video) await this._openLocalMedia();
      await this._connect();
    } catch (err) {
      if (this._state !== "joining") throw err;
      throw this._fail(err);
    }
    this._joinedAt = /* @__PURE__ */ new Date();
    this._setState("joined");
    const participants = { local: this._localParticipant() };
    this._emitEvent("joined-meeting", { participants });
    for (const kind of ["audio", "video"]) {
      if (this._local[kind]) this._emitEvent("track-started", { participant: this._localParticipant(), track: this._local[kind], type: kind });
    }
    this._announceReplica();
    return participants;
  }
  async _connect() {
    if (this._session) this._session.close();
    const session = await connect({
      target: this._target,
      lastSeq: this._orderer.lastSeq,
      audioTrack: this._local.audio,
      videoTrack: this._local.video,
      receiveVideo: this.properties.receiveVideo,
      iceServers: this.properties.iceServers,
      iceGatheringTimeoutMs: this.properties.iceGatheringTimeoutMs,
      connectTimeoutMs: this.properties.connectTimeoutMs,
      fetch: this._env.fetch,
      timers: this._env.timers,
      onTrack: (track) => this._onTrack(track),
      onMessage: (data) => this._onMessage(data),
      onState: (pc) => this._onConnectionState(pc),
      onClose: (reason) => this._onDrop(reason)
    }).catch((err) => {
      throw err instanceof JoinError ? err : new JoinError(err && err.message || String(err));
    });
    this._session = session;
    this._dc = session.dc;
    const answer = session.answer || {};
    this.replica = {
      replica_id: answer.replica_id ?? this.replica.replica_id,
      name: answer.replica_name ?? this.replica.name,
      persona_name: answer.persona_name ?? this.replica.persona_name
    };
    this._attempt = 0;
    this._flushOutbox();
  }
  /** The replica is in the call: participant-joined, then its tracks as they play. */
  _announceReplica() {
    const remote = this._remote;
    if (!remote.present) {
      remote.present = true;
      remote.joinedAt = /* @__PURE__ */ new Date();
      this._emitEvent("participant-joined", { participant: this._replicaParticipant() });
    }
    for (const kind of ["audio", "video"]) this._maybeTrackStarted(kind);
  }
  _onTrack(track) {
    const remote = this._remote;
    const previous = remote[track.kind];
    if (previous && previous !== track && remote.announced.has(previous)) {
      remote.announced.delete(previous);
      this._emitEvent("track-stopped", { participant: this._replicaParticipant(), track: previous, type: track.kind });
    }
    remote[track.kind] = track;
    remote.interrupted = false;
    track.addEventListener("unmute", () => {
      if (this._remote[track.kind] !== track) return;
      this._maybeTrackStarted(track.kind);
      this._replicaUpdated();
    });
    track.addEventListener("ended", () => {
      if (!this._remote.announced.has(track)) return;
      this._remote.announced.delete(track);
      this._emitEvent("track-stopped", { participant: this._remote.present ? this._replicaParticipant() : null, track, type: track.kind });
    });
    if (this._state === "joined" || this._state === "reconnecting") this._maybeTrackStarted(track.kind);
  }
  _maybeTrackStarted(kind) {
    const track = this._remote[kind];
    if (!track || !this._remote.present || this._remote.announced.has(track) || track.muted) return;
    if (this._state !== "joined") return;
    this._remote.announced.add(track);
    this._emitEvent("track-started", { participant: this._replicaParticipant(), track, type: kind });
  }
  _onConnectionState(pc) {
    const s = pc.connectionState;
    this._emitEvent("network-connection", { type: "peer-to-peer", event: s === "connected" ? "connected" : s === "failed" || s === "disconnected" ? "interrupted" : s, session_id: REPLICA_SESSION_ID });
    if (s === "failed" || s === "closed") this._onDrop(`connection ${s}`);
    if (s === "disconnected") {
      this._env.timers.clearTimeout(this._disconnectTimer);
      this._disconnectTimer = this._env.timers.setTimeout(() => {
        if (this._session && this._session.pc === pc && pc.connectionState === "disconnected") this._onDrop("connection lost");
      }, 3e3);
    }
  }
  _onDrop(reason) {
    if (this._state !== "joined") return;
    this._closeSession();
    if (!this.properties.reconnect) {
      this._fail(new JoinError(reason, { on: "rtc-connection" }));
      return;
    }
    this._setState("reconnecting", { reason });
    this._remote.interrupted = true;
    this._replicaUpdated();
    this._emitEvent("reconnecting", { reason, lastSeq: this.lastSeq });
    this._scheduleReconnect();
  }
  _scheduleReconnect() {
    const delay = Math.min(this.properties.maxReconnectDelayMs, 500 * 2 ** this._attempt);
    this._attempt += 1;
    this._env.timers.clearTimeout(this._reconnectTimer);
    this._reconnectTimer = this._env.timers.setTimeout(async () => {
      if (this._state !== "reconnecting") return;
      try {
        await this._connect();
      } catch (err) {
        this._closeSession();
        if (this._state !== "reconnecting") return;
        if (err.fatal) {
          this._fail(Object.assign(err, { on: "reconnect" }));
          return;
        }
        this._emitEvent("reconnecting", { reason: err.message, lastSeq: this.lastSeq, attempt: this._attempt });
        this._scheduleReconnect();
        return;
      }
      if (this._state !== "reconnecting") return;
      this._setState("joined");
      this._remote.interrupted = false;
      this._emitEvent("reconnected", { lastSeq: this.lastSeq });
      this._announceReplica();
      this._replicaUpdated();
    }, delay);
  }
  /** A fatal error: Daily's `error` event, then `left-meeting`; returns the event object
   * (what join() rejects with). */
  _fail(err) {
    this._closeSession();
    const event = { action: "error", callClientId: this.callClientId, ...fatalErrorEvent(err) };
    this._replicaGone();
    this._releaseLocal();
    this._setState("error", { reason: event.errorMsg });
    this.emit("error", event);
    if (err && err.status === 410) this._emitEvent("conversation-ended", { reason: err.message });
    this._emitEvent("left-meeting", { ended: !!(err && err.status === 410) });
    return event;
  }
  _replicaGone({ announce = false } = {}) {
    const remote = this._remote;
    const participant2 = remote.present ? this._replicaParticipant() : null;
    for (const kind of ["audio", "video"]) {
      const track = remote[kind];
      if (track && remote.announced.has(track)) this._emitEvent("track-stopped", { participant: participant2, track, type: kind });
    }
    if (announce && participant2) this._emitEvent("participant-left", { participant: participant2 });
    this._remote = { audio: null, video: null, present: false, joinedAt: null, announced: /* @__PURE__ */ new Set(), interrupted: false };
    if (this._activeSpeaker === REPLICA_SESSION_ID) this._activeSpeaker = null;
  }
  _releaseLocal() {
    for (const kind of ["audio", "video"]) {
      const track = this._local[kind];
      if (track && (this._state === "joined" || this._state === "reconnecting")) {
        this._emitEvent("track-stopped", { participant: this._localParticipant(), track, type: kind });
      }
    }
    for (const track of this._local.owned) track.stop();
    this._local = { audio: null, video: null, owned: /* @__PURE__ */ new Set(), off: { audio: false, video: false }, blocked: { audio: null, video: null }, started: false };
    this._levels.stopAll();
  }
  _closeSession() {
    this._env.timers.clearTimeout(this._disconnectTimer);
    this._orderer.clear();
    const session = this._session;
    this._session = null;
    this._dc = null;
    if (session) session.close();
  }
  /** Leave the call (the conversation goes on until it is ended or times out). The call
   * object can join() again; resolves once left. */
  async leave() {
    this._alive("leave");
    if (["new", "left", "ended", "error"].includes(this._state)) return;
    this._env.timers.clearTimeout(this._reconnectTimer);
    this._closeSession();
    this._replicaGone();
    this._releaseLocal();
    this._joinedAt = null;
    this._setState("left");
    this._emitEvent("left-meeting", { ended: false });
  }
  /** Leave if needed and free everything; the instance cannot be used afterwards. */
  async destroy() {
    if (this._destroyed) return;
    if (!["new", "left", "ended", "error"].includes(this._state)) await this.leave();
    else this._releaseLocal();
    this._destroyed = true;
    this._emitEvent("call-instance-destroyed", {});
    this.removeAllListeners();
  }
  // ---------------------------------------------------------------- incoming, in order
  _onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch (_) {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    this._orderer.push(msg);
  }
  _deliver(msg) {
    this._emitEvent("app-message", { data: msg, fromId: REPLICA_SESSION_ID });
    const p = msg.properties || {};
    switch (msg.event_type) {
      case "system.replica_joined":
        this.replica.replica_id = p.replica_id ?? this.replica.replica_id;
        break;
      case "conversation.replica.started_speaking":
        this._setActiveSpeaker(REPLICA_SESSION_ID);
        break;
      case "conversation.user.started_speaking":
        this._setActiveSpeaker(this._sessionId);
        break;
      case "system.error":
        this._emitEvent("nonfatal-error", nonFatal("protocol-error", p.message || p.code || "error", msg));
        break;
      case "system.shutdown":
        this._ended(p.shutdown_reason);
        break;
    }
    const turn = this._turns.add(msg);
    if (turn) this.emit("turn", turn);
  }
  /** The conversation ended: the replica leaves, and so does this call. */
  _ended(reason) {
    if (!["joined", "reconnecting"].includes(this._state)) return;
    this._env.timers.clearTimeout(this._reconnectTimer);
    this._replicaGone({ announce: true });
    this._releaseLocal();
    this._setState("ended", { reason });
    this._emitEvent("conversation-ended", { reason });
    this._env.timers.setTimeout(() => this._closeSession(), 0);
    this._emitEvent("left-meeting", { ended: true });
  }
  /** Turns seen so far, oldest first: {turn_idx, events, user, replica, interrupted}. */
  getTurns() {
    return this._turns.list();
  }
  // ---------------------------------------------------------------- outgoing
  /** Send one message to the replica. `to`: "*" (default), the replica's session_id, or
   * an array of session_ids; messages addressed only to others are not delivered (as in
   * Daily, a sender never receives its own message). Returns this. */
  sendAppMessage(data, to = "*") {
    this._alive("sendAppMessage");
    if (!["joined", "reconnecting"].includes(this._state)) {
      throw new Error("sendAppMessage() only supported after join.");
    }
    const recipients = Array.isArray(to) ? to : [to];
    if (!recipients.includes("*") && !recipients.includes(REPLICA_SESSION_ID)) return this;
    const msg = { ...data };
    if (typeof msg.event_type === "string") {
      if (!msg.message_type) msg.message_type = msg.event_type.startsWith("system.") ? "system" : "conversation";
      if (!msg.conversation_id && this._target) msg.conversation_id = this._target.conversationId;
    }
    const text = JSON.stringify(msg);
    if (this._dc && this._dc.readyState === "open") this._dc.send(text);
    else if (this._outbox.length < 100) this._outbox.push(text);
    return this;
  }
  _flushOutbox() {
    const queued = this._outbox.splice(0);
    for (const text of queued) this._dc.send(text);
  }
  _interaction(event_type, properties) {
    return this.sendAppMessage(properties === void 0 ? { event_type } : { event_type, properties }, "*");
  }
  /** The replica says exactly `text` (no LLM). */
  echo(text, { inferenceId } = {}) {
    const properties = { modality: "text", text };
    if (inferenceId) properties.inference_id = inferenceId;
    return this._interaction("conversation.echo", properties);
  }
  /** One chunk of audio to speak: base64 16-bit mono PCM. */
  echoAudio(audioBase64, { sampleRate = 24e3, inferenceId, done = false } = {}) {
    const properties = { modality: "audio", audio: audioBase64, sample_rate: sampleRate, done };
    if (inferenceId) properties.inference_id = inferenceId;
    return this._interaction("conversation.echo", properties);
  }
  /** As if the user had said `text`. */
  respond(text) {
    return this._interaction("conversation.respond", { text });
  }
  interrupt() {
    return this._interaction("conversation.interrupt");
  }
  overwriteContext(context) {
    return this._interaction("conversation.overwrite_llm_context", { context });
  }
  appendContext(context, { jobStatus } = {}) {
    const properties = { context };
    if (jobStatus) properties.job_status = jobStatus;
    return this._interaction("conversation.append_llm_context", properties);
  }
  /** setSensitivity({pause: "high", interrupt: "low"}) — superlow … high. */
  setSensitivity({ pause, interrupt } = {}) {
    const properties = {};
    if (pause) properties.participant_pause_sensitivity = pause;
    if (interrupt) properties.participant_interrupt_sensitivity = interrupt;
    return this._interaction("conversation.sensitivity", properties);
  }
  sendToolResult({ toolCallId, tool_call_id, name, output, status = "success" }) {
    return this._interaction("conversation.tool_result", {
      tool_call_id: toolCallId ?? tool_call_id,
      name,
      output: typeof output === "string" ? output : JSON.stringify(output),
      status
    });
  }
  /** Replay every retained event after `lastSeq` (duplicates are dropped here). */
  resume(lastSeq = this.lastSeq ?? 0) {
    return this.sendAppMessage({ message_type: "system", event_type: "system.resume", properties: { last_seq: lastSeq } });
  }
  /** A MediaStream with the replica's current tracks (for a <video>/<audio> element). */
  remoteStream() {
    return new MediaStream([this._remote.video, this._remote.audio].filter(Boolean));
  }
};

// src/call-frame.js
var FRAME_DEFAULTS = { connectTimeoutMs: 2e4, iframeStyle: {} };
var CallFrame = class extends Emitter {
  constructor(parent, properties = {}, env = {}) {
    super();
    this._env = {
      timers: env.timers || globalThis,
      server: env.server || (() => null),
      pageUrl: env.pageUrl || (() => globalThis.location ? globalThis.location.href : void 0)
    };
    this.properties = { ...FRAME_DEFAULTS, ...properties };
    this.callClientId = `openreplica-frame-${Date.now()}`;
    this._state = "new";
    this._destroyed = false;
    this._participants = {};
    this._origin = null;
    this._iframe = document.createElement("iframe");
    this._iframe.allow = "microphone; camera; autoplay; display-capture";
    Object.assign(this._iframe.style, { border: "0", width: "100%", height: "100%" }, this.properties.iframeStyle);
    (parent || document.body).appendChild(this._iframe);
    this._onWindowMessage = (ev) => {
      if (ev.source !== this._iframe.contentWindow || ev.origin !== this._origin) return;
      const m = ev.data;
      if (m && m.openreplica === "event") this._onPageEvent(m.type, m.detail || {});
    };
    window.addEventListener("message", this._onWindowMessage);
  }
  _emitEvent(action, fields = {}) {
    return this.emit(action, { action, callClientId: this.callClientId, ...fields });
  }
  _onPageEvent(type, detail) {
    if (type === "joined-meeting") {
      this._state = "joined";
      if (detail.participants) this._participants = { ...detail.participants };
    } else if (type === "participant-joined" || type === "participant-updated") {
      const p = detail.participant;
      if (p) this._participants[p.local ? "local" : p.session_id] = p;
    } else if (type === "participant-left") {
      if (detail.participant) delete this._participants[detail.participant.session_id];
    } else if (type === "left-meeting") {
      if (this._state !== "error") this._state = "left";
    } else if (type === "error") {
      this._state = "error";
    }
    const { action: _a, callClientId: _c, ...fields } = detail;
    this._emitEvent(type, fields);
  }
  _post(message) {
    if (this._iframe.contentWindow && this._origin) this._iframe.contentWindow.postMessage({ openreplica: "command", ...message }, this._origin);
  }
  iframe() {
    return this._iframe;
  }
  meetingState() {
    return { new: "new", joining: "joining-meeting", joined: "joined-meeting", left: "left-meeting", error: "error" }[this._state];
  }
  participants() {
    return { ...this._participants };
  }
  isDestroyed() {
    return this._destroyed;
  }
  /** Load the call page and join; resolves with {local}, rejects with the error event. */
  async join(properties = {}) {
    if (this._destroyed) throw new Error("Use after destroy: join() called on a destroyed call frame");
    if (this._state === "joining" || this._state === "joined") return void 0;
    Object.assign(this.properties, properties);
    const target = resolveJoinTarget(this.properties.url, {
      token: this.properties.token,
      server: this.properties.openreplicaServer || this._env.server(),
      pageUrl: this._env.pageUrl()
    });
    const page = new URL(`${target.base}/c/${encodeURIComponent(target.conversationId)}`);
    if (target.token) page.searchParams.set("t", target.token);
    page.searchParams.set("embed", "1");
    if (this.properties.startVideoOff || this.properties.videoSource === false) page.searchParams.set("camera", "0");
    if (this.properties.userName) page.searchParams.set("name", this.properties.userName);
    this._origin = page.origin;
    this._state = "joining";
    this._emitEvent("joining-meeting", {});
    const settled = new Promise((resolve, reject) => {
      const timers = this._env.timers;
      const cleanup = () => {
        timers.clearTimeout(timer);
        this.off("joined-meeting", onJoined);
        this.off("error", onError);
      };
      const onJoined = (ev) => {
        cleanup();
        resolve(ev.participants || { local: this._participants.local });
      };
      const onError = (ev) => {
        cleanup();
        reject(ev);
      };
      const timer = timers.setTimeout(() => {
        cleanup();
        const event = { action: "error", callClientId: this.callClientId, ...fatalErrorEvent({ message: `no call page answered at ${page.origin}`, on: "load" }) };
        this._state = "error";
        this.emit("error", event);
        reject(event);
      }, this.properties.connectTimeoutMs);
      this.on("joined-meeting", onJoined);
      this.on("error", onError);
    });
    this._iframe.src = page.toString();
    return settled;
  }
  sendAppMessage(data, to = "*") {
    if (this._state !== "joined") throw new Error("sendAppMessage() only supported after join.");
    this._post({ command: "send", message: data, to });
    return this;
  }
  setLocalAudio(enabled) {
    this._post({ command: "set-local-audio", enabled: !!enabled });
    return this;
  }
  setLocalVideo(enabled) {
    this._post({ command: "set-local-video", enabled: !!enabled });
    return this;
  }
  localAudio() {
    return !!(this._participants.local && this._participants.local.audio);
  }
  localVideo() {
    return !!(this._participants.local && this._participants.local.video);
  }
  async startCamera() {
    throw new Error("startCamera() is only supported in call object mode");
  }
  async leave() {
    if (this._state !== "joined" && this._state !== "joining") return;
    this._post({ command: "leave" });
    this._iframe.src = "about:blank";
    this._state = "left";
    this._participants = {};
    this._emitEvent("left-meeting", {});
  }
  async destroy() {
    if (this._destroyed) return;
    await this.leave();
    window.removeEventListener("message", this._onWindowMessage);
    this._iframe.remove();
    this._destroyed = true;
    this._emitEvent("call-instance-destroyed", {});
    this.removeAllListeners();
  }
};

// src/compat.js
var unavailable = (feature) => `${feature} is not available on openreplica`;
function rejectUnavailable(feature) {
  const errorMsg = unavailable(feature);
  return Promise.reject({ error: { type: "not-supported", msg: errorMsg }, errorMsg });
}
function chain() {
  return this;
}
var compatMethods = {
  // -- screen share, recording, streaming, transcription: error events, as Daily
  startScreenShare() {
    this._emitEvent("nonfatal-error", { type: "screen-share-error", errorMsg: unavailable("screen sharing") });
  },
  stopScreenShare() {
  },
  startRecording() {
    this._emitEvent("recording-error", { errorMsg: unavailable("cloud recording") });
  },
  updateRecording() {
  },
  stopRecording() {
  },
  startLiveStreaming() {
    this._emitEvent("live-streaming-error", { errorMsg: unavailable("live streaming") });
  },
  updateLiveStreaming() {
  },
  addLiveStreamingEndpoints() {
  },
  removeLiveStreamingEndpoints() {
  },
  stopLiveStreaming() {
  },
  startTranscription() {
    this._emitEvent("transcription-error", { errorMsg: unavailable("Daily transcription (the replica's own utterance events carry the transcript)") });
  },
  stopTranscription() {
  },
  startRemoteMediaPlayer() {
    return rejectUnavailable("the remote media player");
  },
  updateRemoteMediaPlayer() {
    return rejectUnavailable("the remote media player");
  },
  stopRemoteMediaPlayer() {
    return rejectUnavailable("the remote media player");
  },
  startCustomTrack() {
    return rejectUnavailable("custom tracks");
  },
  stopCustomTrack() {
    return rejectUnavailable("custom tracks");
  },
  startDialOut() {
    return rejectUnavailable("dial-out");
  },
  stopDialOut() {
    return rejectUnavailable("dial-out");
  },
  sendDTMF() {
    return rejectUnavailable("dial-out");
  },
  updateWaitingParticipant() {
    return rejectUnavailable("waiting rooms");
  },
  updateWaitingParticipants() {
    return rejectUnavailable("waiting rooms");
  },
  requestFullscreen() {
    return rejectUnavailable("fullscreen of a call object");
  },
  exitFullscreen() {
  },
  // -- pre-join and room information: everything is allowed on an open conversation
  async load() {
  },
  async preAuth(properties = {}) {
    Object.assign(this.properties, properties);
    return { access: { level: "full" } };
  },
  async requestAccess() {
    return { access: { level: "full" }, granted: true };
  },
  accessState() {
    return { access: this._state === "joined" ? { level: "full" } : "unknown" };
  },
  waitingParticipants() {
    return {};
  },
  async room() {
    if (!this._target) return null;
    return { id: this._target.conversationId, name: this._target.conversationId, config: {}, domainConfig: {}, tokenConfig: {} };
  },
  async geo() {
    return { current: "local" };
  },
  meetingSessionSummary() {
    return { id: this.conversationId || "" };
  },
  async getMeetingSession() {
    return { meetingSession: { id: this.conversationId || "" } };
  },
  meetingSessionState() {
    return { data: {}, topology: "peer" };
  },
  setMeetingSessionData() {
  },
  // -- network and quality: one loopback-or-LAN peer connection, nothing to tune
  async getNetworkStats() {
    return { stats: { latest: {}, worstVideoRecvPacketLoss: 0, worstVideoSendPacketLoss: 0 }, threshold: "good", quality: 100 };
  },
  async getCpuLoadStats() {
    return { cpuLoadState: "low", cpuLoadStateReason: "none", stats: {} };
  },
  async getNetworkTopology() {
    return { topology: this._state === "joined" ? "peer" : "none" };
  },
  async setNetworkTopology() {
    return { error: unavailable("changing the network topology") };
  },
  async testWebsocketConnectivity() {
    return { result: "aborted", abortedRegions: [], failedRegions: [], passedRegions: [] };
  },
  abortTestWebsocketConnectivity() {
  },
  async testNetworkConnectivity() {
    return { result: "aborted" };
  },
  abortTestNetworkConnectivity() {
  },
  async testCallQuality() {
    return { result: "aborted", secondsElapsed: 0 };
  },
  stopTestCallQuality() {
  },
  async testPeerToPeerCallQuality() {
    return { result: "aborted", secondsElapsed: 0 };
  },
  stopTestPeerToPeerCallQuality() {
  },
  async testConnectionQuality() {
    return { result: "aborted", data: { maxRTT: null, packetLoss: null }, secondsElapsed: 0 };
  },
  stopTestConnectionQuality() {
  },
  async getReceiveSettings() {
    return {};
  },
  async updateReceiveSettings() {
    return {};
  },
  async updateSendSettings(settings) {
    return settings;
  },
  getSendSettings() {
    return null;
  },
  setIceConfig(iceConfig = {}) {
    if (Array.isArray(iceConfig.iceServers)) this.properties.iceServers = iceConfig.iceServers;
    return this;
  },
  setBandwidth: chain,
  setProxyUrl: chain,
  // -- UI of Daily Prebuilt: no UI in a call object
  async getDailyLang() {
    return { lang: "en", langSetting: "en" };
  },
  setDailyLang: chain,
  loadCss: chain,
  theme() {
    return { colors: {} };
  },
  async setTheme(theme) {
    return theme;
  },
  customTrayButtons() {
    return {};
  },
  updateCustomTrayButtons: chain,
  customIntegrations() {
    return {};
  },
  setCustomIntegrations: chain,
  startCustomIntegrations: chain,
  stopCustomIntegrations: chain,
  activeSpeakerMode() {
    return false;
  },
  setActiveSpeakerMode: chain,
  subscribeToTracksAutomatically() {
    return true;
  },
  setSubscribeToTracksAutomatically: chain,
  setShowNamesMode: chain,
  setShowLocalVideo: chain,
  setShowParticipantsBar: chain,
  showLocalVideo() {
    return false;
  },
  showParticipantsBar() {
    return false;
  },
  async getSidebarView() {
    return null;
  },
  setSidebarView: chain,
  setPlayNewParticipantSound() {
  },
  addFakeParticipant: chain,
  iframe() {
    return this._iframe || null;
  }
};
function addCompatMethods(cls) {
  for (const [name, fn] of Object.entries(compatMethods)) {
    if (!(name in cls.prototype)) Object.defineProperty(cls.prototype, name, { value: fn, writable: true, configurable: true });
  }
}

// src/factory.js
var VERSION = "0.2.0";
addCompatMethods(CallObject);
addCompatMethods(CallFrame);
function createFactory({ scriptUrl } = {}) {
  const scriptServer = serverOfScript(scriptUrl);
  const env = { server: () => globalThis.OPENREPLICA_SERVER || scriptServer };
  let current;
  return {
    VERSION,
    createCallObject(properties) {
      current = new CallObject(properties, env);
      return current;
    },
    createFrame(parentOrProperties, properties) {
      const hasParent = parentOrProperties && typeof parentOrProperties === "object" && "appendChild" in parentOrProperties;
      current = new CallFrame(hasParent ? parentOrProperties : null, hasParent ? properties : parentOrProperties, env);
      return current;
    },
    getCallInstance() {
      return current && !current.isDestroyed() ? current : void 0;
    },
    supportedBrowser() {
      const ok = typeof globalThis.RTCPeerConnection === "function";
      return {
        supported: ok,
        mobile: /Mobi|Android/i.test(globalThis.navigator && navigator.userAgent || ""),
        name: "",
        version: "",
        supportsFullscreen: false,
        supportsScreenShare: false,
        supportsSfu: false,
        supportsVideoProcessing: false,
        supportsAudioProcessing: false
      };
    },
    version() {
      return VERSION;
    }
  };
}

// src/index.js
var Daily = createFactory({ scriptUrl: import.meta.url });
var index_default = Daily;
var createCallObject = (properties) => Daily.createCallObject(properties);
var createFrame = (parent, properties) => Daily.createFrame(parent, properties);
export {
  CallFrame,
  CallObject,
  REPLICA_SESSION_ID,
  SeqOrderer,
  TurnGrouper,
  VERSION,
  createCallObject,
  createFactory,
  createFrame,
  index_default as default,
  findReplica,
  localParticipant,
  offerUrl,
  parseConversationUrl,
  replicaParticipant,
  resolveJoinTarget,
  serverOfScript,
  trackState
};
