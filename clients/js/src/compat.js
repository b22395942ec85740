// The rest of daily-js's DailyCall surface, for features openreplica does not have. Each
// behaves as Daily does when the feature is unavailable, so an app written for Daily
// never meets `undefined is not a function`: starting screen share emits a
// `nonfatal-error` of type `screen-share-error` (the event daily-js uses for screen share
// failures, https://docs.daily.co/reference/daily-js/events/error-events#nonfatal-error);
// recording, live streaming and transcription emit their `*-error` events; promise
// methods for absent features reject with {error, errorMsg}; setters return `this`;
// getters return Daily's empty values.

const unavailable = (feature) => `${feature} is not available on openreplica`;

function rejectUnavailable(feature) {
  const errorMsg = unavailable(feature);
  return Promise.reject({ error: { type: "not-supported", msg: errorMsg }, errorMsg });
}

function chain() {
  return this;
}

export const compatMethods = {
  // -- screen share, recording, streaming, transcription: error events, as Daily
  startScreenShare() {
    this._emitEvent("nonfatal-error", { type: "screen-share-error", errorMsg: unavailable("screen sharing") });
  },
  stopScreenShare() {},
  startRecording() {
    this._emitEvent("recording-error", { errorMsg: unavailable("cloud recording") });
  },
  updateRecording() {},
  stopRecording() {},
  startLiveStreaming() {
    this._emitEvent("live-streaming-error", { errorMsg: unavailable("live streaming") });
  },
  updateLiveStreaming() {},
  addLiveStreamingEndpoints() {},
  removeLiveStreamingEndpoints() {},
  stopLiveStreaming() {},
  startTranscription() {
    this._emitEvent("transcription-error", { errorMsg: unavailable("Daily transcription (the replica's own utterance events carry the transcript)") });
  },
  stopTranscription() {},
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
  exitFullscreen() {},

  // -- pre-join and room information: everything is allowed on an open conversation
  async load() {},
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
  setMeetingSessionData() {},

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
  abortTestWebsocketConnectivity() {},
  async testNetworkConnectivity() {
    return { result: "aborted" };
  },
  abortTestNetworkConnectivity() {},
  async testCallQuality() {
    return { result: "aborted", secondsElapsed: 0 };
  },
  stopTestCallQuality() {},
  async testPeerToPeerCallQuality() {
    return { result: "aborted", secondsElapsed: 0 };
  },
  stopTestPeerToPeerCallQuality() {},
  async testConnectionQuality() {
    return { result: "aborted", data: { maxRTT: null, packetLoss: null }, secondsElapsed: 0 };
  },
  stopTestConnectionQuality() {},
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
  setPlayNewParticipantSound() {},
  addFakeParticipant: chain,
  iframe() {
    return this._iframe || null;
  },
};

/** Add the methods a class does not define itself. */
export function addCompatMethods(cls) {
  for (const [name, fn] of Object.entries(compatMethods)) {
    if (!(name in cls.prototype)) Object.defineProperty(cls.prototype, name, { value: fn, writable: true, configurable: true });
  }
}
