import type { DailyParticipantTracks, DailyTrackState, DailyTrackStateValue } from "../types";
import { useParticipantProperty } from "./useParticipantProperty";

export interface MediaTrackState extends DailyTrackState {
  /** True when the state is "blocked" or "off" (daily-react's isTrackOff). */
  isOff: boolean;
}

export const isTrackOff = (state: DailyTrackStateValue | undefined): boolean =>
  state === undefined || state === "blocked" || state === "off";

const OFF: MediaTrackState = { isOff: true, persistentTrack: undefined, state: "off", subscribed: false };

/**
 * A participant's track and its state: `participants()[id].tracks[type]` plus `isOff`
 * (https://docs.daily.co/reference/daily-react/use-media-track). Render
 * `persistentTrack`: it stays the same object across mute and unmute.
 */
export const useMediaTrack = (
  participantId: string,
  type: keyof DailyParticipantTracks = "video",
): MediaTrackState => {
  const track = useParticipantProperty<DailyTrackState | undefined>(participantId, `tracks.${type}`);
  return track ? { ...track, isOff: isTrackOff(track.state) } : OFF;
};

/** A participant's audio track and state. */
export const useAudioTrack = (participantId: string): MediaTrackState => useMediaTrack(participantId, "audio");
/** A participant's camera track and state. */
export const useVideoTrack = (participantId: string): MediaTrackState => useMediaTrack(participantId, "video");
/** A participant's screen-share video track (openreplica has no screen share: always off). */
export const useScreenVideoTrack = (participantId: string): MediaTrackState =>
  useMediaTrack(participantId, "screenVideo");
/** A participant's screen-share audio track (always off with openreplica). */
export const useScreenAudioTrack = (participantId: string): MediaTrackState =>
  useMediaTrack(participantId, "screenAudio");
