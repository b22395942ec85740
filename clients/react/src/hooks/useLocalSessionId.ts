import { useStoreSelector } from "../context";

/** The local participant's session_id, or '' while there is none (as daily-react). */
export const useLocalSessionId = (): string => useStoreSelector((s) => s.localId);
