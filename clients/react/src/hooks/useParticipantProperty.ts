import { useStoreSelector } from "../context";
import { itemsEqual, shallowEqual } from "../equality";
import type { DailyParticipant } from "../types";

/** The value at a dotted path ("tracks.audio.state") of a participant object. */
export function resolvePath(participant: DailyParticipant | undefined, path: string): any {
  let value: any = participant;
  for (const part of path.split(".")) {
    if (value === null || value === undefined) return undefined;
    value = value[part];
  }
  return value;
}

/**
 * One property of a participant by dotted path, or several at once with an array of
 * paths (https://docs.daily.co/reference/daily-react/use-participant-property). The
 * component re-renders only when those values change.
 */
export function useParticipantProperty<T = any>(participantId: string, path: string): T;
export function useParticipantProperty<T extends any[] = any[]>(participantId: string, paths: readonly string[]): T;
export function useParticipantProperty(participantId: string, paths: string | readonly string[]): any {
  return useStoreSelector(
    (s) => {
      const participant = s.participants[participantId];
      return typeof paths === "string"
        ? resolvePath(participant, paths)
        : paths.map((path) => resolvePath(participant, path));
    },
    typeof paths === "string" ? shallowEqual : (a: any[], b: any[]) => itemsEqual(a, b),
  );
}

/** The whole participant object, or null (https://docs.daily.co/reference/daily-react/use-participant). */
export const useParticipant = (participantId: string): DailyParticipant | null =>
  useStoreSelector((s) => s.participants[participantId] ?? null);

/** The local participant object, or null. */
export const useLocalParticipant = (): DailyParticipant | null =>
  useStoreSelector((s) => s.participants[s.localId] ?? null);
