/**
 * One store per <DailyProvider>: what the hooks read, kept up to date from the call
 * object's events. Plain TypeScript (no React), so it is testable on its own; hooks read
 * it through useSyncExternalStore with a selector.
 */
import type {
  DailyCall,
  DailyCameraError,
  DailyEventObject,
  DailyMeetingState,
  DailyParticipant,
} from "./types";

/** daily-react's general device states (useDevices' camState / micState). */
export type GeneralDeviceState =
  | "idle"
  | "pending"
  | "not-supported"
  | "granted"
  | "blocked"
  | "in-use"
  | "not-found"
  | "constraints-invalid"
  | "constraints-none-specified"
  | "undefined-mediadevices"
  | "unknown";

export interface StatefulDevice {
  device: MediaDeviceInfo;
  selected: boolean;
  state: "granted" | "in-use";
}

/** A sequenced protocol event received as an app-message (it carries `seq`). */
export interface ConversationEvent {
  seq: number;
  event_type: string;
  message_type?: string;
  conversation_id?: string;
  turn_idx?: number;
  inference_id?: string;
  timestamp?: number;
  properties?: Record<string, any>;
  [key: string]: unknown;
}

export interface StoreState {
  meetingState: DailyMeetingState;
  localId: string;
  /** session_ids in the order participants were first seen. */
  ids: string[];
  participants: Record<string, DailyParticipant>;
  activeId: string | null;
  camState: GeneralDeviceState;
  micState: GeneralDeviceState;
  cameraError: DailyCameraError | null;
  cameras: StatefulDevice[];
  microphones: StatefulDevice[];
  speakers: StatefulDevice[];
  /** Sequenced app-message events of the current meeting, in `seq` order, no duplicates. */
  events: ConversationEvent[];
}

/** Events the store follows (besides those the app's hooks ask for). */
export const STORE_EVENTS = [
  "loading",
  "loaded",
  "joining-meeting",
  "joined-meeting",
  "left-meeting",
  "call-instance-destroyed",
  "error",
  "participant-joined",
  "participant-updated",
  "participant-left",
  "track-started",
  "track-stopped",
  "active-speaker-change",
  "started-camera",
  "camera-error",
  "available-devices-updated",
  "selected-devices-updated",
  "app-message",
] as const;

/** The most events kept for useConversationTurns (a long conversation stays bounded). */
export const MAX_EVENTS = 10_000;

export const emptyState = (): StoreState => ({
  meetingState: "new",
  localId: "",
  ids: [],
  participants: {},
  activeId: null,
  camState: "idle",
  micState: "idle",
  cameraError: null,
  cameras: [],
  microphones: [],
  speakers: [],
  events: [],
});

export class CallStore {
  private state: StoreState = emptyState();
  private readonly listeners = new Set<() => void>();
  private call: DailyCall | null = null;

  getState = (): StoreState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<StoreState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }

  /** Follow a (new) call object: start from what it knows now. */
  attach(call: DailyCall | null): void {
    this.call = call;
    this.state = emptyState();
    if (!call) return this.set({});
    this.set({ meetingState: readMeetingState(call) });
    this.syncParticipants();
  }

  /** Apply one event from the call object (`name` is its event name). */
  apply(name: string, ev: DailyEventObject | undefined): void {
    const call = this.call;
    if (!call) return;
    switch (name) {
      case "loading":
      case "loaded":
      case "error":
        this.set({ meetingState: readMeetingState(call) });
        return;
      case "joining-meeting":
        // A new meeting: the previous one's conversation events go.
        this.set({ meetingState: readMeetingState(call), events: [] });
        this.syncParticipants();
        return;
      case "joined-meeting":
        this.set({ meetingState: readMeetingState(call) });
        this.syncParticipants(ev?.participants ? Object.values(ev.participants) : undefined);
        return;
      case "left-meeting":
        // As daily-react: participants are reset when the meeting ends; events stay
        // readable until the next join.
        this.set({ meetingState: readMeetingState(call), localId: "", ids: [], participants: {}, activeId: null });
        return;
      case "call-instance-destroyed":
        this.state = emptyState();
        this.set({});
        return;
      case "participant-joined":
      case "participant-updated":
        this.syncParticipants(ev?.participant ? [ev.participant] : undefined);
        if (name === "participant-updated" && ev?.participant?.local) this.updateDeviceStates();
        return;
      case "participant-left":
        if (ev?.participant) this.removeParticipant(ev.participant.session_id);
        this.syncParticipants();
        return;
      case "track-started":
      case "track-stopped":
        this.syncParticipants();
        return;
      case "active-speaker-change": {
        const peerId = ev?.activeSpeaker?.peerId ?? null;
        const participants = { ...this.state.participants };
        const speaker = peerId ? participants[peerId] : undefined;
        if (peerId && speaker) participants[peerId] = { ...speaker, last_active: new Date() };
        this.set({ activeId: peerId, participants });
        return;
      }
      case "started-camera":
        this.set({ camState: "granted", micState: "granted" });
        this.syncParticipants(undefined, true);
        this.updateDeviceStates();
        return;
      case "camera-error":
        this.set({ cameraError: ev?.error ?? null, ...cameraErrorStates(ev?.error) });
        return;
      case "available-devices-updated":
      case "selected-devices-updated":
        void this.refreshDevices();
        return;
      case "app-message":
        this.addEvent(ev?.data);
        return;
    }
  }

  /** Take participants from `participants()` (plus fresher copies from an event). After
   * leaving, only a new join or a started camera brings them back: daily-js still lists
   * the local participant then, and daily-react keeps the ids empty until the next join. */
  private syncParticipants(fresher?: DailyParticipant[], force = false): void {
    const call = this.call;
    if (!call) return;
    if (!force && (this.state.meetingState === "left-meeting" || this.state.meetingState === "error")) return;
    let listed: DailyParticipant[];
    try {
      listed = Object.values(call.participants() ?? {});
    } catch {
      listed = [];
    }
    const byId: Record<string, DailyParticipant> = {};
    for (const p of [...listed, ...(fresher ?? [])]) {
      if (!p || typeof p.session_id !== "string") continue;
      const previous = this.state.participants[p.session_id];
      byId[p.session_id] = previous?.last_active ? { ...p, last_active: previous.last_active } : p;
    }
    const known = this.state.ids.filter((id) => id in byId);
    const added = Object.keys(byId).filter((id) => !known.includes(id));
    const local = Object.values(byId).find((p) => p.local);
    this.set({ participants: byId, ids: [...known, ...added], localId: local?.session_id ?? "" });
  }

  private removeParticipant(sessionId: string): void {
    const participants = { ...this.state.participants };
    delete participants[sessionId];
    this.set({
      participants,
      ids: this.state.ids.filter((id) => id !== sessionId),
      activeId: this.state.activeId === sessionId ? null : this.state.activeId,
    });
  }

  private addEvent(data: unknown): void {
    if (!data || typeof data !== "object") return;
    const event = data as ConversationEvent;
    if (typeof event.seq !== "number" || typeof event.event_type !== "string") return;
    const events = this.state.events;
    // Events normally arrive in order: append; otherwise insert in place, dropping a repeat.
    let at = events.length;
    while (at > 0 && events[at - 1].seq > event.seq) at -= 1;
    if (at > 0 && events[at - 1].seq === event.seq) return;
    const next = [...events.slice(0, at), event, ...events.slice(at)];
    this.set({ events: next.length > MAX_EVENTS ? next.slice(next.length - MAX_EVENTS) : next });
  }

  /** The local participant's track flags → camState / micState (as daily-react does). */
  private updateDeviceStates(): void {
    const local = this.state.participants[this.state.localId];
    if (!local) return;
    const patch: Partial<StoreState> = {};
    const mic = trackDeviceState(local.tracks.audio, this.state.micState);
    const cam = trackDeviceState(local.tracks.video, this.state.camState);
    if (mic) patch.micState = mic;
    if (cam) patch.camState = cam;
    this.set(patch);
    void this.refreshDevices();
  }

  /** Re-list the devices: the call object's enumerateDevices() when it has one, else the
   * browser's. https://docs.daily.co/reference/daily-js/instance-methods/enumerate-devices */
  refreshDevices = async (): Promise<void> => {
    const md = typeof navigator !== "undefined" ? navigator.mediaDevices : undefined;
    if (!md?.getUserMedia || !md?.enumerateDevices) {
      this.set({ camState: "not-supported", micState: "not-supported" });
      return;
    }
    const call = this.call;
    if (!call) return;
    try {
      const devices = call.enumerateDevices
        ? (await call.enumerateDevices()).devices
        : await md.enumerateDevices();
      const selected = call.getInputDevices ? await call.getInputDevices() : null;
      const state = this.state;
      const list = (kind: MediaDeviceKind, chosen: unknown, previous: StatefulDevice[]) =>
        devices
          .filter((d) => d.kind === kind && d.deviceId !== "")
          .map((d): StatefulDevice => {
            const before = previous.find((p) => p.device.deviceId === d.deviceId);
            const chosenId =
              chosen && typeof chosen === "object" && "deviceId" in chosen
                ? (chosen as { deviceId: string }).deviceId
                : undefined;
            return {
              device: d,
              selected: chosenId !== undefined ? chosenId === d.deviceId : Boolean(before?.selected),
              state: before?.state ?? "granted",
            };
          })
          .sort(byDefaultThenLabel);
      this.set({
        cameras: list("videoinput", selected?.camera, state.cameras),
        microphones: list("audioinput", selected?.mic, state.microphones),
        speakers: list("audiooutput", selected?.speaker, state.speakers),
      });
    } catch {
      this.set({ camState: "not-supported", micState: "not-supported" });
    }
  };
}

function readMeetingState(call: DailyCall): DailyMeetingState {
  try {
    return (call.meetingState() as DailyMeetingState) ?? "new";
  } catch {
    return "new";
  }
}

function byDefaultThenLabel(a: StatefulDevice, b: StatefulDevice): number {
  if (a.device.deviceId === "default") return -1;
  if (b.device.deviceId === "default") return 1;
  return a.device.label < b.device.label ? -1 : a.device.label > b.device.label ? 1 : 0;
}

function trackDeviceState(
  track: DailyParticipant["tracks"]["audio"] | undefined,
  current: GeneralDeviceState,
): GeneralDeviceState | null {
  if (!track) return null;
  if (track.blocked?.byDeviceInUse) return "in-use";
  if (track.blocked?.byDeviceMissing) return "not-found";
  if (track.blocked?.byPermissions) return "blocked";
  if (track.persistentTrack) return "granted";
  // Not started yet (or turned off by the user before it ever started): unchanged.
  return current === "idle" || current === "pending" ? null : current;
}

/** camera-error → device states, per daily-react's mapping of Daily's error types
 * (https://docs.daily.co/reference/daily-js/events/meeting-events#camera-error). */
export function cameraErrorStates(
  error: DailyCameraError | undefined,
): Pick<StoreState, "camState" | "micState"> | Partial<StoreState> {
  switch (error?.type) {
    case "cam-in-use":
      return { camState: "in-use" };
    case "mic-in-use":
      return { micState: "in-use" };
    case "cam-mic-in-use":
      return { camState: "in-use", micState: "in-use" };
    case "not-found":
      return {
        ...(error.missingMedia?.includes("video") ? { camState: "not-found" as const } : {}),
        ...(error.missingMedia?.includes("audio") ? { micState: "not-found" as const } : {}),
      };
    case "permissions":
      return {
        ...(error.blockedMedia?.includes("video") ? { camState: "blocked" as const } : {}),
        ...(error.blockedMedia?.includes("audio") ? { micState: "blocked" as const } : {}),
      };
    case "constraints":
      if (error.reason === "invalid") return { camState: "constraints-invalid", micState: "constraints-invalid" };
      if (error.reason === "none-specified") {
        return { camState: "constraints-none-specified", micState: "constraints-none-specified" };
      }
      return {};
    case "undefined-mediadevices":
      return { camState: "undefined-mediadevices", micState: "undefined-mediadevices" };
    default:
      return { camState: "unknown", micState: "unknown" };
  }
}
