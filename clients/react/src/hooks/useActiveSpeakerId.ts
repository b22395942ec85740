import { useEffect, useState } from "react";

import { useStoreSelector } from "../context";
import { useLocalSessionId } from "./useLocalSessionId";

export interface UseActiveSpeakerIdArgs {
  /** Return false to ignore a new active speaker id in this hook. */
  filter?(id: string | null): boolean;
  /** Never return the local participant. */
  ignoreLocal?: boolean;
}

/** The latest `active-speaker-change` peerId, filtered as asked
 * (https://docs.daily.co/reference/daily-react/use-active-speaker-id). */
export const useActiveSpeakerId = ({ filter, ignoreLocal = false }: UseActiveSpeakerIdArgs = {}): string | null => {
  const localId = useLocalSessionId();
  const recent = useStoreSelector((s) => s.activeId);
  const relevant = !(ignoreLocal && recent === localId) && (filter ? filter(recent) : true);
  const [activeId, setActiveId] = useState<string | null>(relevant ? recent : null);
  useEffect(() => {
    if (relevant) setActiveId(recent);
  }, [recent, relevant]);
  return activeId;
};
