// The call object: daily-js's `DailyCall` (https://docs.daily.co/reference/daily-js) for
// one openreplica conversation over WebRTC. Same method names, argument shapes,
// promise-or-sync returns, events (every payload carries `action` and `callClientId`)
// and participant objects; the replica is the one remote participant. What openreplica
// adds: `app-message` delivers the conversation's events in `seq` order with no gap or
// duplicate, a dropped connection resumes from the last `seq` seen, events are grouped
// by turn (`turn`, getTurns()), and typed helpers send each interaction.

import { Emitter } from "./emitter.js";
import { JoinError, fatalErrorEvent, nonFatal } from "./errors.js";
import { blockedBy, constraintsFor, deviceInfos, openMedia } from "./media.js";
import { REPLICA_SESSION_ID, localParticipant, replicaParticipant, trackState } from "./participants.js";
import { SeqOrderer } from "./ordering.js";
import { connect } from "./signalling.js";
import { TurnGrouper } from "./turns.js";
import { resolveJoinTarget } from "./urls.js";
import { AudioLevels } from "./audio-levels.js";

const DEFAULTS = {
  audioSource: true,
  videoSource: true,
  receiveVideo: true,
  iceServers: [],
  reconnect: true,
  iceGatheringTimeoutMs: 3000,
  connectTimeoutMs: 15000,
  gapTimeoutMs: 1000,
  maxReconnectDelayMs: 8000,
};

// Internal states -> Daily's meetingState() values. During a reconnect Daily stays
// "joined-meeting" (its tracks go "interrupted"); a conversation that ended is
// "left-meeting".
const MEETING_STATES = {
  new: "new",
  loading: "loading",
  joining: "joining-meeting",
  joined: "joined-meeting",
  reconnecting: "joined-meeting",
  left: "left-meeting",
  ended: "left-meeting",
  error: "error",
};

let nextClientId = 0;

function newSessionId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function isTrack(value) {
  return !!value && typeof value === "object" && typeof value.kind === "string";
}

export class CallObject extends Emitter {
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
      pageUrl: env.pageUrl || (() => (globalThis.location ? globalThis.location.href : undefined)),
    };
    this.properties = { ...DEFAULTS, ...properties };
    this.options = this.properties; // the name openreplica.js 0.1 used
    this.callClientId = `openreplica-${Date.now()}-${nextClientId++}`;
    this._state = "new";
    this._destroyed = false;
    this._target = null;
    this._session = null;
    this._dc = null;
    this._sessionId = newSessionId();
    this._joinedAt = null;
    this._local = { audio: null, video: null, owned: new Set(), off: { audio: false, video: false }, blocked: { audio: null, video: null }, started: false };
    this._remote = { audio: null, video: null, present: false, joinedAt: null, announced: new Set(), interrupted: false };
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
      timers: this._env.timers,
    });
    /** The replica of the current conversation: {replica_id, name, persona_name}. */
    this.replica = { replica_id: null, name: null, persona_name: null };
  }

  // ---------------------------------------------------------------- events

  /** Emit a Daily-shaped event: `action` and `callClientId` on every payload. */
  _emitEvent(action, fields = {}) {
    return this.emit(action, { action, callClientId: this.callClientId, ...fields });
  }

  _alive(method) {
    if (this._destroyed) {
      // daily-js >= 0.45 throws on any use of a destroyed instance.
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
      video: this._localTrackState("video"),
    });
  }

  _replicaParticipant() {
    const remote = this._remote;
    return replicaParticipant({
      replicaId: this.replica.replica_id,
      name: this.replica.persona_name || this.replica.name,
      joinedAt: remote.joinedAt,
      audio: trackState({ track: remote.audio, remote: true, interrupted: remote.interrupted }),
      video: trackState({ track: remote.video, remote: true, interrupted: remote.interrupted }),
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
    return source === undefined ? true : source;
  }

  /** Open the microphone and camera as the properties ask (Daily's startCamera step). */
  async _openLocalMedia() {
    const wants = {};
    for (const kind of ["audio", "video"]) {
      const source = this._sourceFor(kind);
      const startOff = kind === "audio" ? this.properties.startAudioOff : this.properties.startVideoOff;
      if (isTrack(source)) {
        this._local[kind] = source; // the app's own track: never stopped by us
      } else if (source === false) {
        this._local[kind] = null;
      } else if (startOff) {
        this._local.off[kind] = true; // opened later by setLocal…(true)
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
      // Daily's camera-error: errorMsg is an object, error the typed reason.
      this._emitEvent("camera-error", {
        errorMsg: { errorMsg: error.msg, audioOk: !!this._local.audio, videoOk: !!this._local.video },
        error,
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
    // Turning on a device that was never opened (startVideoOff, or a camera-error
    // earlier): open it now and attach it to the call.
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
        "startCamera() not supported after joining a meeting. Did you mean to use setLocalAudio() and/or setLocalVideo() instead?",
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
    const changes = { audio: audioSource !== undefined ? audioSource : audioDeviceId, video: videoSource !== undefined ? videoSource : videoDeviceId };
    for (const kind of ["audio", "video"]) {
      const value = changes[kind];
      if (value === undefined || value === null) continue;
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
    // Output goes through the app's own <audio> elements (setSinkId there).
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
    this.properties.inputSettings = { ...(this.properties.inputSettings || {}), ...inputSettings };
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
    this._levels.startRemote(() => this._remote.audio, interval, (level) =>
      this._emitEvent("remote-participants-audio-level", { participantsAudioLevel: { [REPLICA_SESSION_ID]: level } }),
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
      return undefined;
    }
    const { lastSeq, ...dailyProperties } = properties;
    Object.assign(this.properties, dailyProperties);
    this._target = resolveJoinTarget(this.properties.url, {
      token: this.properties.token,
      server: this.properties.openreplicaServer || this._env.server(),
      pageUrl: this._env.pageUrl(),
    });
    this._orderer.clear();
    this._orderer.lastSeq = typeof lastSeq === "number" ? lastSeq : null;
    this._turns = new TurnGrouper();
    this._outbox = [];
    if (this._state === "new") {
      this._setState("loading");
      this._emitEvent("loading", {});
      this._emitEvent("loaded", {}); // nothing to load: the library is the call machine
    }
    this._sessionId = newSessionId();
    this._setState("joining");
    this._emitEvent("joining-meeting", {});
    try {
      if (!this._local.started || (!this._local.audio && !this._local.video)) await this._openLocalMedia();
      await this._connect();
    } catch (err) {
      if (this._state !== "joining") throw err; // left (or destroyed) while joining
      throw this._fail(err);
    }
    this._joinedAt = new Date();
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
      onClose: (reason) => this._onDrop(reason),
    }).catch((err) => {
      throw err instanceof JoinError ? err : new JoinError((err && err.message) || String(err));
    });
    // Tracks may arrive before connect() resolves; they are announced once joined.
    this._session = session;
    this._dc = session.dc;
    const answer = session.answer || {};
    this.replica = {
      replica_id: answer.replica_id ?? this.replica.replica_id,
      name: answer.replica_name ?? this.replica.name,
      persona_name: answer.persona_name ?? this.replica.persona_name,
    };
    this._attempt = 0;
    this._flushOutbox();
  }

  /** The replica is in the call: participant-joined, then its tracks as they play. */
  _announceReplica() {
    const remote = this._remote;
    if (!remote.present) {
      remote.present = true;
      remote.joinedAt = new Date();
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
    // A remote track is "loading" until media flows ("unmute"); Daily's track-started
    // means playable.
    track.addEventListener("unmute", () => {
      if (this._remote[track.kind] !== track) return;
      this._maybeTrackStarted(track.kind);
      this._replicaUpdated();
    });
    track.addEventListener("ended", () => {
      // this._remote, not `remote`: after leave() the old record is gone (and announced).
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
      // Often recovers by itself within a few seconds; give it that chance.
      this._env.timers.clearTimeout(this._disconnectTimer);
      this._disconnectTimer = this._env.timers.setTimeout(() => {
        if (this._session && this._session.pc === pc && pc.connectionState === "disconnected") this._onDrop("connection lost");
      }, 3000);
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
    const participant = remote.present ? this._replicaParticipant() : null;
    for (const kind of ["audio", "video"]) {
      const track = remote[kind];
      if (track && remote.announced.has(track)) this._emitEvent("track-stopped", { participant, track, type: kind });
    }
    if (announce && participant) this._emitEvent("participant-left", { participant });
    this._remote = { audio: null, video: null, present: false, joinedAt: null, announced: new Set(), interrupted: false };
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
    this._local = { audio: null, video: null, owned: new Set(), off: { audio: false, video: false }, blocked: { audio: null, video: null }, started: false };
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
    else if (this._outbox.length < 100) this._outbox.push(text); // sent once reconnected
    return this;
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
  resume(lastSeq = this.lastSeq ?? 0) {
    return this.sendAppMessage({ message_type: "system", event_type: "system.resume", properties: { last_seq: lastSeq } });
  }

  /** A MediaStream with the replica's current tracks (for a <video>/<audio> element). */
  remoteStream() {
    return new MediaStream([this._remote.video, this._remote.audio].filter(Boolean));
  }
}
