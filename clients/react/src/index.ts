/**
 * @openreplica/daily-react — daily-react's hooks and components for openreplica
 * (names, props and return shapes as in https://docs.daily.co/reference/daily-react),
 * plus two hooks for CVI apps: useReplicaSessionId and useConversationTurns.
 */
export { DailyAudio, type DailyAudioHandle, type DailyAudioProps } from "./components/DailyAudio";
export { DailyAudioTrack, type DailyAudioPlayException, type DailyAudioTrackProps } from "./components/DailyAudioTrack";
export { DailyVideo, type DailyVideoDimensions, type DailyVideoProps } from "./components/DailyVideo";
export { DailyProvider, type DailyProviderProps } from "./DailyProvider";
export { useActiveSpeakerId, type UseActiveSpeakerIdArgs } from "./hooks/useActiveSpeakerId";
export { type SendAppMessage, type UseAppMessageArgs, useAppMessage } from "./hooks/useAppMessage";
export { useAudioLevelObserver } from "./hooks/useAudioLevelObserver";
export { type ConversationTurn, groupTurns, useConversationTurns } from "./hooks/useConversationTurns";
export { useDaily } from "./hooks/useDaily";
export { useDailyEvent } from "./hooks/useDailyEvent";
export { type UseDevicesResult, useDevices } from "./hooks/useDevices";
export { useLocalSessionId } from "./hooks/useLocalSessionId";
export {
  type MediaTrackState,
  useAudioTrack,
  useMediaTrack,
  useScreenAudioTrack,
  useScreenVideoTrack,
  useVideoTrack,
} from "./hooks/useMediaTrack";
export { useMeetingState } from "./hooks/useMeetingState";
export {
  type FilterParticipants,
  type SortParticipants,
  type UseParticipantIdsArgs,
  useParticipantIds,
} from "./hooks/useParticipantIds";
export { useLocalParticipant, useParticipant, useParticipantProperty } from "./hooks/useParticipantProperty";
export { REPLICA_USER_ID_MARK, useReplicaSessionId } from "./hooks/useReplicaSessionId";
export type { ConversationEvent, GeneralDeviceState, StatefulDevice } from "./store";
export type * from "./types";
