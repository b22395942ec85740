import { useMemo } from "react";

import { useStoreSelector } from "../context";
import type { ConversationEvent } from "../store";

export interface ConversationTurn {
  /** The turn's `turn_idx`; null for events that carry only an `inference_id`. */
  turn_idx: number | null;
  /** The inference ids seen in this turn, first seen first. */
  inference_ids: string[];
  /** The turn's events in `seq` order. */
  events: ConversationEvent[];
  /** The user's words (`conversation.utterance`, role user), or null. */
  user: string | null;
  /** The replica's words so far: its utterance, else the latest streaming text. */
  replica: string | null;
  /** The replica was cut off in this turn. */
  interrupted: boolean;
}

/** Group sequenced events by `turn_idx` (events without one, by `inference_id`); events
 * with neither (system.*) belong to no turn. Turns come in order of their first event. */
export function groupTurns(events: readonly ConversationEvent[]): ConversationTurn[] {
  const turns = new Map<string, ConversationTurn>();
  const hasReplicaUtterance = new Set<string>();
  for (const event of events) {
    const key =
      typeof event.turn_idx === "number"
        ? `t${event.turn_idx}`
        : typeof event.inference_id === "string"
          ? `i${event.inference_id}`
          : null;
    if (key === null) continue;
    let turn = turns.get(key);
    if (!turn) {
      turn = {
        turn_idx: typeof event.turn_idx === "number" ? event.turn_idx : null,
        inference_ids: [],
        events: [],
        user: null,
        replica: null,
        interrupted: false,
      };
      turns.set(key, turn);
    }
    turn.events.push(event);
    if (event.inference_id && !turn.inference_ids.includes(event.inference_id)) {
      turn.inference_ids.push(event.inference_id);
    }
    const p = event.properties ?? {};
    if (event.event_type === "conversation.utterance") {
      if (p.role === "user") turn.user = p.speech ?? null;
      else {
        turn.replica = p.speech ?? null;
        hasReplicaUtterance.add(key);
      }
    } else if (event.event_type === "conversation.utterance.streaming" && p.role !== "user") {
      // The full utterance, once known, wins over the text streamed so far.
      if (!hasReplicaUtterance.has(key)) turn.replica = p.speech ?? turn.replica;
      if (p.is_interrupted) turn.interrupted = true;
    } else if (
      event.event_type === "conversation.replica_interrupted" ||
      (event.event_type === "conversation.replica.stopped_speaking" && p.interrupted)
    ) {
      turn.interrupted = true;
    }
  }
  return [...turns.values()];
}

/**
 * The conversation's events grouped by turn, in `seq` order: every sequenced event
 * received as an app-message since the call joined (kept by <DailyProvider>, so a
 * component mounted late still sees the whole turn). openreplica's own hook.
 */
export const useConversationTurns = (): ConversationTurn[] => {
  const events = useStoreSelector((s) => s.events);
  return useMemo(() => groupTurns(events), [events]);
};
