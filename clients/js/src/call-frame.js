// createFrame(): the call page in an iframe with the call object's surface (Daily's
// prebuilt-style `DailyIframe.createFrame(parent, options)`). The page and this object
// talk by postMessage: events come out (app-message, participant-*, joined/left-meeting,
// error, camera-error …), commands go in (send an app message, mute, camera, leave).
// join() rejects with Daily's error object when the page reports an error, or when no
// page answers within `connectTimeoutMs`.

import { Emitter } from "./emitter.js";
import { fatalErrorEvent } from "./errors.js";
import { resolveJoinTarget } from "./urls.js";

const FRAME_DEFAULTS = { connectTimeoutMs: 20000, iframeStyle: {} };

export class CallFrame extends Emitter {
  constructor(parent, properties = {}, env = {}) {
    super();
    this._env = {
      timers: env.timers || globalThis,
      server: env.server || (() => null),
      pageUrl: env.pageUrl || (() => (globalThis.location ? globalThis.location.href : undefined)),
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
    if (this._state === "joining" || this._state === "joined") return undefined;
    Object.assign(this.properties, properties);
    const target = resolveJoinTarget(this.properties.url, {
      token: this.properties.token,
      server: this.properties.openreplicaServer || this._env.server(),
      pageUrl: this._env.pageUrl(),
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
}
