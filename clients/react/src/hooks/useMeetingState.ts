import { useStoreSelector } from "../context";
import type { DailyMeetingState } from "../types";

/** The meeting's state: daily.meetingState() as of the latest meeting event
 * (https://docs.daily.co/reference/daily-js/instance-methods/meeting-state). */
export const useMeetingState = (): DailyMeetingState | null => useStoreSelector((s) => s.meetingState);
