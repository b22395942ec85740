// Type definitions for @openreplica/daily-js: daily-js's public types (names and shapes
// as in daily-js's own index.d.ts) for the surface openreplica implements, plus
// openreplica's additions (marked "openreplica").

/// <reference lib="dom" />

export type DailyEvent =
  | 'loading'
  | 'loaded'
  | 'load-attempt-failed'
  | 'started-camera'
  | 'camera-error'
  | 'joining-meeting'
  | 'joined-meeting'
  | 'left-meeting'
  | 'call-instance-destroyed'
  | 'participant-joined'
  | 'participant-updated'
  | 'participant-left'
  | 'participant-counts-updated'
  | 'track-started'
  | 'track-stopped'
  | 'recording-started'
  | 'recording-stopped'
  | 'recording-error'
  | 'transcription-started'
  | 'transcription-stopped'
  | 'transcription-error'
  | 'app-message'
  | 'local-screen-share-started'
  | 'local-screen-share-stopped'
  | 'local-screen-share-canceled'
  | 'active-speaker-change'
  | 'network-quality-change'
  | 'network-connection'
  | 'error'
  | 'nonfatal-error'
  | 'live-streaming-started'
  | 'live-streaming-stopped'
  | 'live-streaming-error'
  | 'available-devices-updated'
  | 'input-settings-updated'
  | 'selected-devices-updated'
  | 'local-audio-level'
  | 'remote-participants-audio-level'
  // openreplica
  | 'turn'
  | 'reconnecting'
  | 'reconnected'
  | 'conversation-ended'
  | 'state-changed'
  | 'local-media';

export type DailyMeetingState =
  | 'new'
  | 'loading'
  | 'loaded'
  | 'joining-meeting'
  | 'joined-meeting'
  | 'left-meeting'
  | 'error';

export type DailyCameraErrorType =
  | 'cam-in-use'
  | 'mic-in-use'
  | 'cam-mic-in-use'
  | 'permissions'
  | 'undefined-mediadevices'
  | 'not-found'
  | 'constraints'
  | 'unknown';

export type DailyFatalErrorType =
  | 'ejected'
  | 'nbf-room'
  | 'nbf-token'
  | 'exp-room'
  | 'exp-token'
  | 'no-room'
  | 'meeting-full'
  | 'end-of-life'
  | 'not-allowed'
  | 'connection-error';

export type DailyNonFatalErrorType =
  | 'input-settings-error'
  | 'screen-share-error'
  | 'local-audio-level-observer-error'
  | 'video-processor-error'
  | 'audio-processor-error'
  | 'remote-media-player-error'
  | 'live-streaming-warning'
  | 'meeting-session-data-error'
  // openreplica: a `system.error` reply (data holds it); events lost after a gap
  | 'protocol-error'
  | 'gap';

export interface DailyTrackState {
  subscribed: 'staged' | boolean;
  state: 'blocked' | 'off' | 'sendable' | 'loading' | 'interrupted' | 'playable';
  blocked?: { byDeviceMissing?: boolean; byDeviceInUse?: boolean; byPermissions?: boolean };
  off?: { byUser?: boolean; byRemoteRequest?: boolean; byBandwidth?: boolean; byCanSendPermission?: boolean; byServerLimit?: boolean };
  /** Only present when state === 'playable'. */
  track?: MediaStreamTrack;
  /** Present whenever a track exists, playable or not. */
  persistentTrack?: MediaStreamTrack;
}

export interface DailyParticipantTracks {
  audio: DailyTrackState;
  video: DailyTrackState;
  screenAudio: DailyTrackState;
  screenVideo: DailyTrackState;
}

export interface DailyParticipantPermissions {
  hasPresence: boolean;
  canSend: Set<string> | boolean;
  canAdmin: Set<string> | boolean;
}

export interface DailyParticipant {
  /** @deprecated use tracks.audio.persistentTrack */
  audioTrack?: MediaStreamTrack | false;
  /** @deprecated use tracks.video.persistentTrack */
  videoTrack?: MediaStreamTrack | false;
  screenVideoTrack?: MediaStreamTrack | false;
  screenAudioTrack?: MediaStreamTrack | false;
  /** @deprecated use tracks.audio.state */
  audio: boolean;
  /** @deprecated use tracks.video.state */
  video: boolean;
  screen: boolean;
  tracks: DailyParticipantTracks & { [customTrackKey: string]: DailyTrackState | undefined };
  /** The replica's contains `tavus-replica`. */
  user_id: string;
  /** The replica's is the persona's name. */
  user_name: string;
  userData?: unknown;
  /** The replica's is `replica`. */
  session_id: string;
  joined_at?: Date;
  will_eject_at: Date;
  local: boolean;
  owner: boolean;
  permissions: DailyParticipantPermissions;
  record: boolean;
  cam_info: {};
  screen_info: {};
}

export interface DailyParticipantsObject {
  local: DailyParticipant;
  [id: string]: DailyParticipant;
}

export interface DailyParticipantCounts {
  present: number;
  hidden: number;
}

export interface DailyInputSettings {
  audio?: { processor: { type: 'none' | 'noise-cancellation' } };
  video?: { processor?: { type: 'none' | 'background-blur' | 'background-image'; config?: Record<string, unknown> } };
}

export interface DailyCallOptions {
  url?: string;
  token?: string;
  userName?: string;
  userData?: unknown;
  videoSource?: string | MediaStreamTrack | boolean;
  audioSource?: string | MediaStreamTrack | boolean;
  startVideoOff?: boolean;
  startAudioOff?: boolean;
  inputSettings?: DailyInputSettings;
  iframeStyle?: Partial<CSSStyleDeclaration>;
  dailyConfig?: Record<string, unknown>;
  subscribeToTracksAutomatically?: boolean;
  /** openreplica: `lastSeq: 0` replays the whole retained conversation before live events. */
  lastSeq?: number;
}

export interface DailyFactoryOptions extends DailyCallOptions {
  strictMode?: boolean;
  /** openreplica: the server hosted-style room URLs (`https://tavus.daily.co/ID`) map to. */
  openreplicaServer?: string;
  /** openreplica: receive the replica's video (default true). */
  receiveVideo?: boolean;
  /** openreplica: STUN/TURN servers for the peer connection (default none). */
  iceServers?: RTCIceServer[];
  /** openreplica: reconnect and resume after a dropped connection (default true). */
  reconnect?: boolean;
  iceGatheringTimeoutMs?: number;
  connectTimeoutMs?: number;
  gapTimeoutMs?: number;
  maxReconnectDelayMs?: number;
}

export interface DailyDeviceInfos {
  camera: {} | MediaDeviceInfo;
  mic: {} | MediaDeviceInfo;
  speaker: {} | MediaDeviceInfo;
}

export type DailyCameraError = { msg: string };
export interface DailyCameraErrorObject extends DailyCameraError {
  type: DailyCameraErrorType;
  blockedBy?: 'user' | 'browser';
  blockedMedia?: Array<'video' | 'audio'>;
  missingMedia?: Array<'video' | 'audio'>;
  reason?: 'invalid' | 'none-specified';
}

export type DailyFatalError = {
  type: DailyFatalErrorType;
  msg: string;
  details?: { on: 'load' | 'join' | 'reconnect' | 'move' | 'rtc-connection' | 'room-lookup'; sourceError: Record<string, any>; uri?: string };
};

interface DailyEventObjectBase {
  callClientId: string;
}

export interface DailyEventObjectNoPayload extends DailyEventObjectBase {
  action: 'loading' | 'loaded' | 'joining-meeting' | 'left-meeting' | 'call-instance-destroyed' | 'started-camera';
  /** openreplica, on left-meeting: the conversation itself ended. */
  ended?: boolean;
}
export interface DailyEventObjectAppMessage<Data = any> extends DailyEventObjectBase {
  action: 'app-message';
  data: Data;
  fromId: string;
}
export interface DailyEventObjectCameraError extends DailyEventObjectBase {
  action: 'camera-error';
  errorMsg: { errorMsg: string; audioOk?: boolean; videoOk?: boolean };
  error: DailyCameraErrorObject;
}
export interface DailyEventObjectFatalError extends DailyEventObjectBase {
  action: 'error';
  errorMsg: string;
  error?: DailyFatalError;
  /** openreplica: the HTTP status of the refusal (0 when the server was not reached). */
  status?: number;
}
export interface DailyEventObjectNonFatalError extends DailyEventObjectBase {
  action: 'nonfatal-error';
  type: DailyNonFatalErrorType;
  errorMsg: string;
  details?: any;
}
export interface DailyEventObjectGenericError extends DailyEventObjectBase {
  action: 'load-attempt-failed' | 'recording-error' | 'live-streaming-error' | 'transcription-error';
  errorMsg: string;
}
export interface DailyEventObjectParticipants extends DailyEventObjectBase {
  action: 'joined-meeting';
  participants: DailyParticipantsObject;
}
export interface DailyEventObjectParticipant extends DailyEventObjectBase {
  action: 'participant-joined' | 'participant-updated';
  participant: DailyParticipant;
}
export interface DailyEventObjectParticipantLeft extends DailyEventObjectBase {
  action: 'participant-left';
  participant: DailyParticipant;
  reason?: 'hidden';
}
export interface DailyEventObjectTrack extends DailyEventObjectBase {
  action: 'track-started' | 'track-stopped';
  participant: DailyParticipant | null;
  track: MediaStreamTrack;
  type: 'video' | 'audio' | 'screenVideo' | 'screenAudio' | string;
}
export interface DailyEventObjectActiveSpeakerChange extends DailyEventObjectBase {
  action: 'active-speaker-change';
  activeSpeaker: { peerId: string };
}
export interface DailyEventObjectNetworkConnectionEvent extends DailyEventObjectBase {
  action: 'network-connection';
  type: 'signaling' | 'peer-to-peer' | 'sfu';
  event: string;
  session_id?: string;
}
export interface DailyEventObjectLocalAudioLevel extends DailyEventObjectBase {
  action: 'local-audio-level';
  audioLevel: number;
}
export interface DailyEventObjectRemoteParticipantsAudioLevel extends DailyEventObjectBase {
  action: 'remote-participants-audio-level';
  participantsAudioLevel: { [participantId: string]: number };
}
export interface DailyEventObjectSelectedDevicesUpdated extends DailyEventObjectBase {
  action: 'selected-devices-updated';
  devices: DailyDeviceInfos;
}
export interface DailyEventObjectInputSettingsUpdated extends DailyEventObjectBase {
  action: 'input-settings-updated';
  inputSettings: DailyInputSettings;
}

/** openreplica: the conversation's events grouped by `turn_idx`. */
export interface OpenReplicaTurn {
  turn_idx: number;
  events: OpenReplicaEvent[];
  user: string | null;
  replica: string | null;
  interrupted: boolean;
}

/** openreplica: one message of the CVI protocol (SPEC §1). */
export interface OpenReplicaEvent {
  message_type: 'conversation' | 'system';
  event_type: string;
  conversation_id?: string;
  properties?: Record<string, any>;
  seq?: number;
  timestamp?: number;
  turn_idx?: number;
  inference_id?: string;
}

export type DailyEventObject<T extends DailyEvent = any> = T extends 'app-message'
  ? DailyEventObjectAppMessage
  : T extends DailyEventObjectNoPayload['action']
  ? DailyEventObjectNoPayload
  : T extends 'camera-error'
  ? DailyEventObjectCameraError
  : T extends 'error'
  ? DailyEventObjectFatalError
  : T extends 'nonfatal-error'
  ? DailyEventObjectNonFatalError
  : T extends DailyEventObjectGenericError['action']
  ? DailyEventObjectGenericError
  : T extends 'joined-meeting'
  ? DailyEventObjectParticipants
  : T extends DailyEventObjectParticipant['action']
  ? DailyEventObjectParticipant
  : T extends 'participant-left'
  ? DailyEventObjectParticipantLeft
  : T extends DailyEventObjectTrack['action']
  ? DailyEventObjectTrack
  : T extends 'active-speaker-change'
  ? DailyEventObjectActiveSpeakerChange
  : T extends 'network-connection'
  ? DailyEventObjectNetworkConnectionEvent
  : T extends 'local-audio-level'
  ? DailyEventObjectLocalAudioLevel
  : T extends 'remote-participants-audio-level'
  ? DailyEventObjectRemoteParticipantsAudioLevel
  : T extends 'selected-devices-updated'
  ? DailyEventObjectSelectedDevicesUpdated
  : T extends 'input-settings-updated'
  ? DailyEventObjectInputSettingsUpdated
  : T extends 'turn'
  ? OpenReplicaTurn
  : any;

export interface DailyCall {
  iframe(): HTMLIFrameElement | null;
  join(properties?: DailyCallOptions): Promise<DailyParticipantsObject | void>;
  leave(): Promise<void>;
  destroy(): Promise<void>;
  isDestroyed(): boolean;
  meetingState(): DailyMeetingState;
  participants(): DailyParticipantsObject;
  participantCounts(): DailyParticipantCounts;
  updateParticipant(sessionId: string, updates: { setAudio?: boolean; setVideo?: boolean }): DailyCall;
  updateParticipants(updates: { [sessionId: string]: { setAudio?: boolean; setVideo?: boolean } }): DailyCall;
  localAudio(): boolean;
  localVideo(): boolean;
  setLocalAudio(enabled: boolean, options?: { forceDiscardTrack: true }): DailyCall;
  setLocalVideo(enabled: boolean): DailyCall;
  startCamera(properties?: DailyCallOptions): Promise<DailyDeviceInfos>;
  getInputDevices(): Promise<DailyDeviceInfos>;
  enumerateDevices(): Promise<{ devices: MediaDeviceInfo[] }>;
  setInputDevicesAsync(devices: {
    audioDeviceId?: string | false | null;
    audioSource?: MediaStreamTrack | false;
    videoDeviceId?: string | false | null;
    videoSource?: MediaStreamTrack | false;
  }): Promise<DailyDeviceInfos>;
  setOutputDeviceAsync(audioDevice: { outputDeviceId?: string }): Promise<DailyDeviceInfos>;
  cycleCamera(): Promise<{ device?: MediaDeviceInfo | null }>;
  cycleMic(): Promise<{ device?: MediaDeviceInfo | null }>;
  updateInputSettings(inputSettings: DailyInputSettings): Promise<{ inputSettings: DailyInputSettings }>;
  getInputSettings(): Promise<DailyInputSettings>;
  setUserName(name: string, options?: { thisMeetingOnly?: boolean }): Promise<{ userName: string }>;
  setUserData(data: unknown): Promise<{ userData: unknown }>;
  startLocalAudioLevelObserver(interval?: number): Promise<void>;
  stopLocalAudioLevelObserver(): void;
  getLocalAudioLevel(): number;
  startRemoteParticipantsAudioLevelObserver(interval?: number): Promise<void>;
  stopRemoteParticipantsAudioLevelObserver(): void;
  getRemoteParticipantsAudioLevel(): { [participantId: string]: number };
  getActiveSpeaker(): { peerId?: string };
  sendAppMessage(data: any, to?: string | string[]): DailyCall;
  // Unavailable on openreplica; they behave as Daily does when the feature is absent.
  startScreenShare(properties?: Record<string, unknown>): void;
  stopScreenShare(): void;
  startRecording(options?: Record<string, unknown>): void;
  stopRecording(options?: { instanceId: string }): void;
  startLiveStreaming(options: Record<string, unknown>): void;
  stopLiveStreaming(options?: { instanceId: string }): void;
  startTranscription(options?: Record<string, unknown>): void;
  stopTranscription(): void;
  startCustomTrack(properties: { track: MediaStreamTrack; mode?: string; trackName?: string }): Promise<string>;
  stopCustomTrack(trackName: string): Promise<string>;
  preAuth(properties?: DailyCallOptions): Promise<{ access: { level: string } }>;
  load(properties?: DailyCallOptions): Promise<void>;
  getNetworkStats(): Promise<Record<string, any>>;
  setBandwidth(bw: { kbs?: number | 'NO_CAP' | null; trackConstraints?: MediaTrackConstraints }): DailyCall;
  setIceConfig(iceConfig?: { iceServers?: RTCIceServer[] }): DailyCall;
  on<T extends DailyEvent>(event: T, handler: (event: DailyEventObject<T>) => void): DailyCall;
  once<T extends DailyEvent>(event: T, handler: (event: DailyEventObject<T>) => void): DailyCall;
  off<T extends DailyEvent>(event: T, handler: (event: DailyEventObject<T>) => void): DailyCall;
  properties: DailyFactoryOptions;
  callClientId: string;
}

/** openreplica's call object: DailyCall plus the CVI helpers and ordered events. */
export interface OpenReplicaCall extends DailyCall {
  readonly state: 'new' | 'loading' | 'joining' | 'joined' | 'reconnecting' | 'left' | 'ended' | 'error';
  readonly conversationId: string | null;
  /** The last `seq` delivered to "app-message" (a reconnect resumes from it). */
  readonly lastSeq: number | null;
  readonly replica: { replica_id: string | null; name: string | null; persona_name: string | null };
  getTurns(): OpenReplicaTurn[];
  echo(text: string, options?: { inferenceId?: string }): OpenReplicaCall;
  echoAudio(audioBase64: string, options?: { sampleRate?: number; inferenceId?: string; done?: boolean }): OpenReplicaCall;
  respond(text: string): OpenReplicaCall;
  interrupt(): OpenReplicaCall;
  overwriteContext(context: string): OpenReplicaCall;
  appendContext(context: string, options?: { jobStatus?: string }): OpenReplicaCall;
  setSensitivity(options: { pause?: string; interrupt?: string }): OpenReplicaCall;
  sendToolResult(result: { toolCallId?: string; tool_call_id?: string; name: string; output: unknown; status?: 'success' | 'error' }): OpenReplicaCall;
  resume(lastSeq?: number): OpenReplicaCall;
  remoteStream(): MediaStream;
}

export interface DailyBrowserInfo {
  supported: boolean;
  mobile: boolean;
  name: string;
  version: string;
  supportsFullscreen: boolean;
  supportsScreenShare: boolean;
  supportsSfu: boolean;
  supportsVideoProcessing: boolean;
  supportsAudioProcessing: boolean;
}

export interface DailyCallFactory {
  createCallObject(properties?: DailyFactoryOptions): OpenReplicaCall;
  createFrame(parentElement: HTMLElement, properties?: DailyFactoryOptions): DailyCall;
  createFrame(properties?: DailyFactoryOptions): DailyCall;
  getCallInstance(): DailyCall | undefined;
}

export interface DailyCallStaticUtils {
  supportedBrowser(): DailyBrowserInfo;
  version(): string;
}

declare const Daily: DailyCallFactory & DailyCallStaticUtils & { VERSION: string };
export default Daily;

export const VERSION: string;
export function createCallObject(properties?: DailyFactoryOptions): OpenReplicaCall;
export function createFrame(parentElement: HTMLElement, properties?: DailyFactoryOptions): DailyCall;
/** The replica among participants(): the remote participant whose user_id contains `tavus-replica`. */
export function findReplica(participants: DailyParticipantsObject): DailyParticipant | null;
export const REPLICA_SESSION_ID: 'replica';
export function parseConversationUrl(url: string, token?: string | null, pageUrl?: string): { base: string; conversationId: string; token: string | null };
export function resolveJoinTarget(
  url: string,
  options?: { token?: string | null; server?: string | null; pageUrl?: string },
): { base: string; conversationId: string; token: string | null };

declare global {
  interface Window {
    /** The page-wide openreplica server for hosted-style room URLs. */
    OPENREPLICA_SERVER?: string;
    DailyIframe?: DailyCallFactory & DailyCallStaticUtils;
    Daily?: DailyCallFactory & DailyCallStaticUtils;
  }
}
