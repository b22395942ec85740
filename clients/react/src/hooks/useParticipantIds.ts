import { useCallback, useMemo } from "react";

import { useStoreSelector } from "../context";
import { itemsEqual } from "../equality";
import type { DailyEventObject, DailyParticipant } from "../types";
import { useDailyEvent } from "./useDailyEvent";
import { isTrackOff } from "./useMediaTrack";

export type FilterParticipants =
  | "local"
  | "remote"
  | "owner"
  | "record"
  | "screen"
  | ((participant: DailyParticipant, index: number, all: DailyParticipant[]) => boolean);

export type SortParticipants =
  | "joined_at"
  | "session_id"
  | "user_id"
  | "user_name"
  | ((a: DailyParticipant, b: DailyParticipant) => number);

export interface UseParticipantIdsArgs {
  filter?: FilterParticipants;
  sort?: SortParticipants;
  onActiveSpeakerChange?(ev: DailyEventObject): void;
  onParticipantJoined?(ev: DailyEventObject): void;
  onParticipantLeft?(ev: DailyEventObject): void;
  onParticipantUpdated?(ev: DailyEventObject): void;
}

const FILTERS: Record<Exclude<FilterParticipants, Function>, (p: DailyParticipant) => boolean> = {
  local: (p) => Boolean(p.local),
  remote: (p) => !p.local,
  owner: (p) => Boolean(p.owner),
  record: (p) => Boolean(p.record),
  screen: (p) => !isTrackOff(p.tracks.screenAudio?.state) || !isTrackOff(p.tracks.screenVideo?.state),
};

/** daily-react's string sorts: ascending, a missing value first. */
function byProperty(key: Exclude<SortParticipants, Function>) {
  return (a: DailyParticipant, b: DailyParticipant): number => {
    const x = a[key] as any;
    const y = b[key] as any;
    if (x === undefined && y === undefined) return 0;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x > y ? 1 : x < y ? -1 : 0;
  };
}

/**
 * The participants' session_ids, optionally filtered and sorted
 * (https://docs.daily.co/reference/daily-react/use-participant-ids). Without a sort the
 * order is the order participants were first seen.
 */
export const useParticipantIds = ({
  filter,
  sort,
  onActiveSpeakerChange,
  onParticipantJoined,
  onParticipantLeft,
  onParticipantUpdated,
}: UseParticipantIdsArgs = {}): string[] => {
  const select = useMemo(() => {
    const keep = typeof filter === "function" ? filter : filter ? FILTERS[filter] : null;
    const order = typeof sort === "function" ? sort : sort ? byProperty(sort) : null;
    return (ids: string[], participants: Record<string, DailyParticipant>): string[] => {
      let list = ids.map((id) => participants[id]).filter(Boolean);
      if (keep) list = list.filter(keep);
      if (order) list = [...list].sort(order);
      return list.map((p) => p.session_id);
    };
  }, [filter, sort]);
  const ids = useStoreSelector((s) => select(s.ids, s.participants), itemsEqual);

  useDailyEvent("participant-joined", useCallback((ev: DailyEventObject) => onParticipantJoined?.(ev), [onParticipantJoined]));
  useDailyEvent("participant-left", useCallback((ev: DailyEventObject) => onParticipantLeft?.(ev), [onParticipantLeft]));
  useDailyEvent(
    "participant-updated",
    useCallback((ev: DailyEventObject) => onParticipantUpdated?.(ev), [onParticipantUpdated]),
  );
  useDailyEvent(
    "active-speaker-change",
    useCallback((ev: DailyEventObject) => onActiveSpeakerChange?.(ev), [onActiveSpeakerChange]),
  );
  return ids;
};
