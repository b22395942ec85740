import { useStoreSelector } from "../context";

/** What the hosted system puts in the replica participant's user_id (openreplica too). */
export const REPLICA_USER_ID_MARK = "tavus-replica";

/**
 * The replica's session_id: the remote participant whose `user_id` contains
 * "tavus-replica" (how CVI apps find it), or null until it has joined. openreplica's own
 * hook; not part of daily-react.
 */
export const useReplicaSessionId = (): string | null =>
  useStoreSelector((s) => {
    for (const id of s.ids) {
      const p = s.participants[id];
      if (p && !p.local && String(p.user_id ?? "").includes(REPLICA_USER_ID_MARK)) return id;
    }
    return null;
  });
