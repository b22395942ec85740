/**
 * The parts of Daily's call object (daily-js) that these hooks use, typed structurally so
 * that they accept openreplica's call object (`clients/js`) and Daily's own alike.
 * Shapes follow https://docs.daily.co/reference/daily-js (participants(), events).
 */

/** https://docs.daily.co/reference/daily-js/instance-methods/participants#track-state */
export type DailyTrackStateValue =
  | "blocked"
  | "off"
  | "sendable"
  | "loading"
  | "interrupted"
  | "playable";

export interface DailyTrackState {
  state: DailyTrackStateValue;
  subscribed?: boolean | "staged";
  persistentTrack?: MediaStreamTrack | null;
  track?: MediaStreamTrack | null;
  blocked?: { byDeviceMissing?: boolean; byDeviceInUse?: boolean; byPermissions?: boolean };
  off?: { byUser?: boolean; byRemoteRequest?: boolean; byBandwidth?: boolean };
}

export interface DailyParticipantTracks {
  audio: DailyTrackState;
  video: DailyTrackState;
  screenAudio?: DailyTrackState;
  screenVideo?: DailyTrackState;
  rmpAudio?: DailyTrackState;
  rmpVideo?: DailyTrackState;
}

export interface DailyParticipant {
  session_id: string;
  user_id: string;
  user_name: string;
  local: boolean;
  owner?: boolean;
  record?: boolean;
  audio?: boolean;
  video?: boolean;
  screen?: boolean;
  joined_at?: Date | string;
  will_eject_at?: Date;
  tracks: DailyParticipantTracks;
  /** Set by these hooks when the participant was last the active speaker. */
  last_active?: Date;
}

/** `participants()`: `local` plus one entry per remote `session_id`. */
export interface DailyParticipantsObject {
  local: DailyParticipant;
  [sessionId: string]: DailyParticipant;
}

/** https://docs.daily.co/reference/daily-js/instance-methods/meeting-state */
export type DailyMeetingState =
  | "new"
  | "loading"
  | "loaded"
  | "joining-meeting"
  | "joined-meeting"
  | "left-meeting"
  | "error";

export type DailyEvent =
  | "loading"
  | "loaded"
  | "joining-meeting"
  | "joined-meeting"
  | "left-meeting"
  | "call-instance-destroyed"
  | "participant-joined"
  | "participant-updated"
  | "participant-left"
  | "active-speaker-change"
  | "track-started"
  | "track-stopped"
  | "started-camera"
  | "camera-error"
  | "app-message"
  | "error"
  | "nonfatal-error"
  | "available-devices-updated"
  | "selected-devices-updated"
  | "local-audio-level"
  | "remote-participants-audio-level"
  | (string & {});

/** https://docs.daily.co/reference/daily-js/events/meeting-events#camera-error */
export interface DailyCameraError {
  type?:
    | "cam-in-use"
    | "mic-in-use"
    | "cam-mic-in-use"
    | "permissions"
    | "not-found"
    | "constraints"
    | "undefined-mediadevices"
    | "unknown";
  msg?: string;
  blockedMedia?: ("video" | "audio")[];
  missingMedia?: ("video" | "audio")[];
  reason?: string;
  [key: string]: unknown;
}

/** Every Daily event object carries its `action` (the event name). */
export interface DailyEventObject {
  action: string;
  participant?: DailyParticipant;
  participants?: DailyParticipantsObject;
  track?: MediaStreamTrack;
  type?: string;
  activeSpeaker?: { peerId: string };
  error?: DailyCameraError;
  errorMsg?: string;
  data?: unknown;
  fromId?: string;
  audioLevel?: number;
  participantsAudioLevel?: Record<string, number>;
  [key: string]: unknown;
}

/** The `app-message` event: https://docs.daily.co/reference/daily-js/events/participant-events#app-message */
export interface DailyEventObjectAppMessage<Data = any> {
  action: "app-message";
  data: Data;
  fromId: string;
  callClientId?: string;
}

export interface DailyDeviceInfos {
  camera: MediaDeviceInfo | Record<string, never>;
  mic: MediaDeviceInfo | Record<string, never>;
  speaker: MediaDeviceInfo | Record<string, never>;
}

/** Call-object creation props (DailyFactoryOptions), the ones that matter here. */
export interface DailyFactoryOptions {
  url?: string;
  token?: string;
  userName?: string;
  audioSource?: string | boolean | MediaStreamTrack;
  videoSource?: string | boolean | MediaStreamTrack;
  startVideoOff?: boolean;
  startAudioOff?: boolean;
  strictMode?: boolean;
  [key: string]: unknown;
}

/**
 * The call object. Methods marked optional are used when present; the hooks fall back to
 * the browser's own APIs (devices, audio levels) when a call object lacks them.
 */
export interface DailyCall {
  on(event: DailyEvent, handler: (event: any) => void): unknown;
  off(event: DailyEvent, handler: (event: any) => void): unknown;
  participants(): DailyParticipantsObject | Record<string, DailyParticipant>;
  meetingState(): DailyMeetingState | string;
  sendAppMessage(data: unknown, to?: string): unknown;
  join(options?: Record<string, unknown>): Promise<unknown>;
  leave(): Promise<unknown>;
  destroy?(): Promise<unknown>;
  isDestroyed?(): boolean;
  setLocalAudio?(enabled: boolean): unknown;
  setLocalVideo?(enabled: boolean): unknown;
  enumerateDevices?(): Promise<{ devices: MediaDeviceInfo[] }>;
  getInputDevices?(): Promise<DailyDeviceInfos>;
  setInputDevicesAsync?(devices: {
    audioDeviceId?: string | null;
    videoDeviceId?: string | null;
  }): Promise<unknown>;
  setOutputDeviceAsync?(device: { outputDeviceId: string }): Promise<unknown>;
  startLocalAudioLevelObserver?(interval?: number): Promise<void> | void;
  isLocalAudioLevelObserverRunning?(): boolean;
  startRemoteParticipantsAudioLevelObserver?(interval?: number): Promise<void> | void;
  isRemoteParticipantsAudioLevelObserverRunning?(): boolean;
}
