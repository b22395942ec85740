/*
 * openreplica.js — browser client for openreplica conversations over WebRTC.
 * Plain ES module, no build step:
 *
 *   <script type="module">
 *     import OpenReplica from "http://HOST:PORT/static/openreplica.js";
 *     const call = OpenReplica.createCallObject();
 *     call.on("app-message", ({ data, fromId }) => console.log(data.event_type, data));
 *     await call.join({ url: conversationUrl });     // http://HOST:PORT/c/ID[?t=TOKEN]
 *     call.respond("Hello!");
 *     call.sendAppMessage({ event_type: "conversation.interrupt" }, "*");
 *     await call.leave();
 *   </script>
 *
 * The surface follows the hosted system's call object (Daily-like): createCallObject,
 * join({url}), on/off, sendAppMessage(message, "*"), leave(), participants(),
 * setLocalAudio/localAudio. Events reach "app-message" in `seq` order (out-of-order
 * arrivals are held, duplicates dropped, gaps filled with `system.resume`), and are
 * grouped per `turn_idx` ("turn" events, getTurns()). A dropped connection reconnects by
 * itself and resumes from the last `seq` seen; it stops when the conversation ends.
 * Also sets `globalThis.OpenReplica` for pages that do not use modules.
 */

const VERSION = "0.1.0";
const REPLICA_ID = "replica";
const LOCAL_ID = "local";

class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return this;
  }
  once(event, handler) {
    const wrapper = (arg) => {
      this.off(event, wrapper);
      handler(arg);
    };
    return this.on(event, wrapper);
  }
  off(event, handler) {
    const set = this._handlers.get(event);
    if (set) handler ? set.delete(handler) : set.clear();
    return this;
  }
  emit(event, arg) {
    const set = this._handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(arg);
      } catch (err) {
        console.error(`openreplica: "${event}" handler failed`, err);
      }
    }
  }
}

/** Where a conversation lives: base URL, id and token, from a conversation_url. */
export function parseConversationUrl(url, token) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  const match = u.pathname.match(/^(.*)\/c\/([^/]+)\/?$/);
  if (!match) throw new Error(`not a conversation_url (…/c/ID): ${url}`);
  return {
    base: `${u.origin}${match[1]}`,
    conversationId: decodeURIComponent(match[2]),
    token: token ?? u.searchParams.get("t") ?? null,
  };
}

function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, timeoutMs); // send what we have: never wait forever
    pc.addEventListener("icegatheringstatechange", check);
  });
}

class JoinError extends Error {
  constructor(message, { status = 0, fatal = false } = {}) {
    super(message);
    this.name = "JoinError";
    this.status = status;
    this.fatal = fatal;
  }
}

export class CallObject extends Emitter {
  /**
   * options: audioSource (true | false | MediaStreamTrack, default true),
   * videoSource (true | false | MediaStreamTrack, default false), receiveVideo (true),
   * iceServers ([]), reconnect (true), iceGatheringTimeoutMs (3000),
   * connectTimeoutMs (15000), gapTimeoutMs (1000), maxReconnectDelayMs (8000).
   */
  constructor(options = {}) {
    super();
    this.options = {
      audioSource: true,
      videoSource: false,
      receiveVideo: true,
      iceServers: [],
      reconnect: true,
      iceGatheringTimeoutMs: 3000,
      connectTimeoutMs: 15000,
      gapTimeoutMs: 1000,
      maxReconnectDelayMs: 8000,
      ...options,
    };
    this._state = "new";
    this._target = null;
    this._pc = null;
    this._dc = null;
    this._local = { audio: null, video: null, owned: [] };
    this._remote = { audio: null, video: null };
    this._lastSeq = null;
    this._pending = new Map();
    this._gapTimer = null;
    this._gapResumed = false;
    this._turns = new Map();
    this._outbox = [];
    this._attempt = 0;
    this._reconnectTimer = null;
    this.replica = { replica_id: null, name: null };
  }

  // ---------------------------------------------------------------- state

  /** "new" | "joining-meeting" | "joined-meeting" | "left-meeting" | "error" (Daily's names) */
  meetingState() {
    return {
      new: "new",
      joining: "joining-meeting",
      joined: "joined-meeting",
      reconnecting: "joining-meeting",
      left: "left-meeting",
      ended: "left-meeting",
      error: "error",
    }[this._state];
  }
  /** "new" | "joining" | "joined" | "reconnecting" | "left" | "ended" | "error" */
  get state() {
    return this._state;
  }
  get conversationId() {
    return this._target ? this._target.conversationId : null;
  }
  /** The last `seq` delivered to "app-message" (what a reconnect resumes from). */
  get lastSeq() {
    return this._lastSeq;
  }

  _setState(state, detail = {}) {
    if (this._state === state) return;
    const previous = this._state;
    this._state = state;
    this.emit("state-changed", { state, previous, ...detail });
  }

  // ---------------------------------------------------------------- join / leave

  /** Join a conversation: {url: conversation_url, token?, lastSeq?}. `lastSeq: 0` replays
   * every retained event first (a full transcript); by default only live events. */
  async join({ url, token, lastSeq } = {}) {
    if (!url) throw new Error("join({url}) needs the conversation_url");
    if (this._state === "joining" || this._state === "joined") {
      throw new Error(`already ${this._state}`);
    }
    this._target = parseConversationUrl(url, token);
    if (typeof lastSeq === "number") this._lastSeq = lastSeq;
    this._setState("joining");
    this.emit("joining-meeting", {});
    try {
      await this._openLocalMedia();
      await this._connect();
    } catch (err) {
      this._fail(err);
      throw err;
    }
    this.emit("joined-meeting", { participants: this.participants() });
    return this.participants();
  }

  /** Leave the call (the conversation itself goes on until it is ended). */
  async leave() {
    if (this._state === "left" || this._state === "new") return;
    const wasEnded = this._state === "ended";
    this._setState(wasEnded ? "ended" : "left");
    this._teardown();
    for (const track of this._local.owned) track.stop();
    this._local = { audio: null, video: null, owned: [] };
    this.emit("left-meeting", { ended: wasEnded });
  }

  async _openLocalMedia() {
    const { audioSource, videoSource } = this.options;
    const wantAudio = audioSource === true;
    const wantVideo = videoSource === true;
    if (audioSource && audioSource !== true) this._local.audio = audioSource;
    if (videoSource && videoSource !== true) this._local.video = videoSource;
    if (!wantAudio && !wantVideo) return;
    const md = globalThis.navigator && navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      this.emit("nonfatal-error", { type: "media", message: "no mediaDevices (needs https or localhost)" });
      return;
    }
    const audio = wantAudio
      ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true }
      : false;
    const video = wantVideo ? { width: { ideal: 640 }, height: { ideal: 480 } } : false;
    let stream = null;
    try {
      stream = await md.getUserMedia({ audio, video });
    } catch (err) {
      if (wantAudio && wantVideo) {
        // No camera (or no permission for it): try the microphone alone.
        try {
          stream = await md.getUserMedia({ audio, video: false });
        } catch (err2) {
          this.emit("nonfatal-error", { type: "media", message: String(err2) });
        }
      } else {
        this.emit("nonfatal-error", { type: "media", message: String(err) });
      }
    }
    if (!stream) return;
    for (const track of stream.getTracks()) {
      this._local.owned.push(track);
      this._local[track.kind] = track;
    }
    this.emit("local-media", { audio: this._local.audio, video: this._local.video });
  }

  async _connect() {
    const { base, conversationId, token } = this._target;
    const pc = new RTCPeerConnection({ iceServers: this.options.iceServers });
    const dc = pc.createDataChannel("app-message", { ordered: true });
    this._pc = pc;
    this._dc = dc;
    pc.addTransceiver(this._local.audio || "audio", {
      direction: this._local.audio ? "sendrecv" : "recvonly",
    });
    if (this._local.video || this.options.receiveVideo) {
      const direction = this._local.video
        ? this.options.receiveVideo ? "sendrecv" : "sendonly"
        : "recvonly";
      pc.addTransceiver(this._local.video || "video", { direction });
    }
    pc.ontrack = (ev) => this._onTrack(ev.track);
    pc.onconnectionstatechange = () => this._onConnectionState(pc);
    dc.onmessage = (ev) => this._onMessage(ev.data);
    dc.onclose = () => pc === this._pc && this._onDrop("data channel closed");

    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, this.options.iceGatheringTimeoutMs);
    if (pc !== this._pc) throw new JoinError("left while joining");

    const query = new URLSearchParams();
    if (token) query.set("t", token);
    if (this._lastSeq !== null) query.set("last_seq", String(this._lastSeq));
    const qs = query.toString();
    const url = `${base}/v2/conversations/${encodeURIComponent(conversationId)}/webrtc/offer${qs ? `?${qs}` : ""}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
      });
    } catch (err) {
      throw new JoinError(`cannot reach the server: ${err.message || err}`);
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
    const answer = await response.json();
    this.replica = { replica_id: answer.replica_id ?? null, name: answer.replica_name ?? null };
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    await new Promise((resolve, reject) => {
      if (dc.readyState === "open") return resolve();
      const timer = setTimeout(
        () => reject(new JoinError("the connection did not come up (ICE/DTLS timeout)")),
        this.options.connectTimeoutMs,
      );
      dc.addEventListener("open", () => {
        clearTimeout(timer);
        resolve();
      });
      dc.addEventListener("close", () => {
        clearTimeout(timer);
        reject(new JoinError("the data channel closed while connecting"));
      });
    });
    this._attempt = 0;
    this._setState("joined");
    this._flushOutbox();
  }

  _onTrack(track) {
    this._remote[track.kind] = track;
    const participant = this.participants()[REPLICA_ID];
    this.emit("track-started", { participant, track, type: track.kind });
    track.addEventListener("ended", () => this.emit("track-stopped", { participant, track, type: track.kind }));
  }

  _onConnectionState(pc) {
    if (pc !== this._pc) return;
    const s = pc.connectionState;
    this.emit("network-connection", { type: "peer", event: s });
    if (s === "failed" || s === "closed") this._onDrop(`connection ${s}`);
    if (s === "disconnected") {
      // Often recovers by itself within a few seconds; give it that chance.
      setTimeout(() => pc === this._pc && pc.connectionState === "disconnected" && this._onDrop("connection lost"), 3000);
    }
  }

  _onDrop(reason) {
    if (this._state !== "joined") return;
    this._teardown();
    if (!this.options.reconnect) {
      this._setState("error", { reason });
      this.emit("error", { errorMsg: reason, fatal: true });
      return;
    }
    this._setState("reconnecting", { reason });
    this.emit("reconnecting", { reason, lastSeq: this._lastSeq });
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const delay = Math.min(this.options.maxReconnectDelayMs, 500 * 2 ** this._attempt);
    this._attempt += 1;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(async () => {
      if (this._state !== "reconnecting") return;
      try {
        await this._connect();
        this.emit("reconnected", { lastSeq: this._lastSeq });
      } catch (err) {
        this._teardown();
        if (this._state !== "reconnecting") return;
        if (err.fatal) return this._fail(err);
        this.emit("reconnecting", { reason: err.message, lastSeq: this._lastSeq, attempt: this._attempt });
        this._scheduleReconnect();
      }
    }, delay);
  }

  _fail(err) {
    this._teardown();
    if (err && err.status === 410) {
      this._setState("ended", { reason: "ended" });
      this.emit("conversation-ended", { reason: err.message });
      return;
    }
    this._setState("error", { reason: err ? err.message : "error" });
    this.emit("error", { errorMsg: err ? err.message : "error", status: err ? err.status : 0, fatal: true });
  }

  _teardown() {
    clearTimeout(this._gapTimer);
    this._gapTimer = null;
    const pc = this._pc;
    this._pc = null;
    this._dc = null;
    this._remote = { audio: null, video: null };
    if (pc) {
      try {
        pc.close();
      } catch (_) {}
    }
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
    if (typeof msg.seq !== "number") return this._deliver(msg); // system.error: not sequenced
    if (this._lastSeq === null) this._lastSeq = msg.seq - 1; // first live event: the baseline
    if (msg.seq <= this._lastSeq || this._pending.has(msg.seq)) return; // duplicate
    this._pending.set(msg.seq, msg);
    this._drainPending();
  }

  _drainPending() {
    while (this._pending.has(this._lastSeq + 1)) {
      const next = this._pending.get(this._lastSeq + 1);
      this._pending.delete(this._lastSeq + 1);
      this._lastSeq += 1;
      this._deliver(next);
    }
    clearTimeout(this._gapTimer);
    this._gapTimer = null;
    if (this._pending.size === 0) {
      this._gapResumed = false;
      return;
    }
    // A gap: ask for a replay once, then give up on the missing events and go on.
    this._gapTimer = setTimeout(() => {
      if (!this._gapResumed) {
        this._gapResumed = true;
        this.resume(this._lastSeq);
        this._drainPending();
      } else {
        this.emit("nonfatal-error", { type: "gap", message: `events after seq ${this._lastSeq} were lost` });
        this._lastSeq = Math.min(...this._pending.keys()) - 1;
        this._gapResumed = false;
        this._drainPending();
      }
    }, this.options.gapTimeoutMs);
  }

  _deliver(msg) {
    this.emit("app-message", { data: msg, fromId: REPLICA_ID });
    if (msg.event_type === "system.replica_joined" && msg.properties) {
      this.replica.replica_id = msg.properties.replica_id ?? this.replica.replica_id;
    }
    if (typeof msg.turn_idx === "number") this._group(msg);
    if (msg.event_type === "system.error") {
      this.emit("nonfatal-error", { type: "protocol", message: msg.properties && msg.properties.message, data: msg });
    }
    if (msg.event_type === "system.shutdown") {
      this._setState("ended", { reason: msg.properties && msg.properties.shutdown_reason });
      this.emit("conversation-ended", { reason: msg.properties && msg.properties.shutdown_reason });
      setTimeout(() => this._teardown(), 0);
    }
  }

  _group(msg) {
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
    this.emit("turn", turn);
  }

  /** Turns seen so far, oldest first: {turn_idx, events, user, replica, interrupted}. */
  getTurns() {
    return [...this._turns.values()].sort((a, b) => a.turn_idx - b.turn_idx);
  }

  // ---------------------------------------------------------------- outgoing

  /** Send one protocol message; `to` is accepted for compatibility (always "*"). */
  sendAppMessage(message, to = "*") {
    if (this._state === "new" || this._state === "left" || this._state === "ended" || this._state === "error") {
      throw new Error(`cannot send: the call is ${this._state}`);
    }
    const msg = { ...message };
    if (!msg.message_type) msg.message_type = msg.event_type && msg.event_type.startsWith("system.") ? "system" : "conversation";
    if (!msg.conversation_id && this._target) msg.conversation_id = this._target.conversationId;
    const text = JSON.stringify(msg);
    if (this._dc && this._dc.readyState === "open") this._dc.send(text);
    else if (this._outbox.length < 100) this._outbox.push(text); // sent once (re)connected
    return to;
  }

  _flushOutbox() {
    const queued = this._outbox.splice(0);
    for (const text of queued) this._dc.send(text);
  }

  _interaction(event_type, properties) {
    return this.sendAppMessage(properties === undefined ? { event_type } : { event_type, properties }, "*");
  }

  /** The replica says exactly `text` (no LLM). */
  echo(text, { inferenceId } = {}) {
    const properties = { modality: "text", text };
    if (inferenceId) properties.inference_id = inferenceId;
    return this._interaction("conversation.echo", properties);
  }
  /** One chunk of audio to speak: base64 16-bit mono PCM. */
  echoAudio(audioBase64, { sampleRate = 24000, inferenceId, done = false } = {}) {
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
      status,
    });
  }
  /** Replay every retained event after `lastSeq` (duplicates are dropped here). */
  resume(lastSeq = this._lastSeq ?? 0) {
    return this.sendAppMessage({ message_type: "system", event_type: "system.resume", properties: { last_seq: lastSeq } });
  }

  // ---------------------------------------------------------------- media

  setLocalAudio(enabled) {
    if (this._local.audio) this._local.audio.enabled = !!enabled;
    this.emit("participant-updated", { participant: this.participants().local });
    return this;
  }
  localAudio() {
    return !!(this._local.audio && this._local.audio.enabled);
  }
  setLocalVideo(enabled) {
    if (this._local.video) this._local.video.enabled = !!enabled;
    this.emit("participant-updated", { participant: this.participants().local });
    return this;
  }
  localVideo() {
    return !!(this._local.video && this._local.video.enabled);
  }

  /** Daily-shaped: {local: {...}, replica: {...}} with tracks[kind].persistentTrack. */
  participants() {
    const entry = (id, local, tracks, name) => ({
      session_id: id,
      user_id: id,
      user_name: name,
      local,
      audio: !!(tracks.audio && tracks.audio.enabled !== false),
      video: !!(tracks.video && tracks.video.enabled !== false),
      tracks: {
        audio: { state: tracks.audio ? "playable" : "off", persistentTrack: tracks.audio || null },
        video: { state: tracks.video ? "playable" : "off", persistentTrack: tracks.video || null },
      },
    });
    return {
      local: entry(LOCAL_ID, true, this._local, "you"),
      [REPLICA_ID]: entry(REPLICA_ID, false, this._remote, this.replica.name || "replica"),
    };
  }

  /** A MediaStream with the replica's current tracks (for a <video>/<audio> element). */
  remoteStream() {
    return new MediaStream([this._remote.video, this._remote.audio].filter(Boolean));
  }
}

/** An iframe showing the call page (like the hosted `createFrame`): app-messages cross
 * the frame boundary by postMessage. */
export class CallFrame extends Emitter {
  constructor(parent, { iframeStyle = {} } = {}) {
    super();
    this.iframe = document.createElement("iframe");
    this.iframe.allow = "microphone; camera; autoplay; display-capture";
    Object.assign(this.iframe.style, { border: "0", width: "100%", height: "100%" }, iframeStyle);
    (parent || document.body).appendChild(this.iframe);
    this._origin = null;
    this._onWindowMessage = (ev) => {
      if (ev.source !== this.iframe.contentWindow || ev.origin !== this._origin) return;
      const m = ev.data;
      if (m && m.openreplica === "event") this.emit(m.type, m.detail);
    };
    window.addEventListener("message", this._onWindowMessage);
  }
  async join({ url, token } = {}) {
    const target = new URL(url, location.href);
    if (token) target.searchParams.set("t", token);
    target.searchParams.set("embed", "1");
    this._origin = target.origin;
    this.iframe.src = target.toString();
    await new Promise((resolve) => this.once("joined-meeting", resolve));
  }
  sendAppMessage(message, to = "*") {
    this.iframe.contentWindow.postMessage({ openreplica: "send", message }, this._origin);
    return to;
  }
  async leave() {
    window.removeEventListener("message", this._onWindowMessage);
    this.iframe.remove();
    this.emit("left-meeting", {});
  }
}

export function createCallObject(options) {
  return new CallObject(options);
}

export function createFrame(parent, options) {
  return new CallFrame(parent, options);
}

const OpenReplica = { VERSION, CallObject, CallFrame, createCallObject, createFrame, parseConversationUrl };
export default OpenReplica;
if (typeof globalThis !== "undefined" && !globalThis.OpenReplica) globalThis.OpenReplica = OpenReplica;
