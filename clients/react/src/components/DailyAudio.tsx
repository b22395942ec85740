import { forwardRef, memo, useEffect, useImperativeHandle, useRef, useState } from "react";

import { useStoreSelector } from "../context";
import { itemsEqual } from "../equality";
import { useActiveSpeakerId } from "../hooks/useActiveSpeakerId";
import type { DailyParticipant, DailyTrackState } from "../types";
import { type DailyAudioPlayException, DailyAudioTrack } from "./DailyAudioTrack";

export interface DailyAudioProps {
  /** Accepted for compatibility; tracks are always subscribed with openreplica. */
  autoSubscribeActiveSpeaker?: boolean;
  /** How many remote audio tracks play at once (the most recent speakers). Default: 5. */
  maxSpeakers?: number;
  /** Called when the browser refuses to play a track (autoplay policy). */
  onPlayFailed?(e: DailyAudioPlayException): void;
  /** Also play the local participant's screen audio. */
  playLocalScreenAudio?: boolean;
}

export interface DailyAudioHandle {
  getAllAudio(): HTMLAudioElement[];
  getActiveSpeakerAudio(): HTMLAudioElement | null;
  getRmpAudio(): HTMLAudioElement[];
  getScreenAudio(): HTMLAudioElement[];
  getAudioBySessionId(sessionId: string): HTMLAudioElement | null;
  getRmpAudioBySessionId(sessionId: string): HTMLAudioElement | null;
  getScreenAudioBySessionId(sessionId: string): HTMLAudioElement | null;
}

const playable = (track: DailyTrackState | undefined) => Boolean(track?.persistentTrack) && track?.subscribed !== false;

/** Keep speakers in their slots; newcomers take free slots, and when all are taken the
 * active speaker replaces the least recently active one (daily-react's policy). */
function assignSpeakers(
  previous: string[],
  candidates: string[],
  activeId: string | null,
  participants: Record<string, DailyParticipant>,
  max: number,
): string[] {
  const next = previous.filter((id) => candidates.includes(id));
  const incoming = candidates.filter((id) => !next.includes(id));
  incoming.sort((a, b) => Number(b === activeId) - Number(a === activeId));
  for (const id of incoming) {
    if (next.length < max) next.push(id);
    else if (id === activeId) {
      const when = (sid: string) => participants[sid]?.last_active?.valueOf() ?? 0;
      const victim = next.filter((sid) => sid !== activeId).sort((a, b) => when(a) - when(b))[0];
      if (victim !== undefined) next[next.indexOf(victim)] = id;
    }
  }
  return itemsEqual(next, previous) ? previous : next;
}

/**
 * Plays every remote participant's audio (up to maxSpeakers at once), plus screen and
 * rmp audio (https://docs.daily.co/reference/daily-react/daily-audio). With openreplica
 * that is the replica's voice.
 */
export const DailyAudio = memo(
  forwardRef<DailyAudioHandle, DailyAudioProps>(function DailyAudio(
    { maxSpeakers = 5, onPlayFailed, playLocalScreenAudio = false },
    ref,
  ) {
    const container = useRef<HTMLDivElement | null>(null);
    const activeId = useActiveSpeakerId({ ignoreLocal: true });
    const candidates = useStoreSelector(
      (s) => s.ids.filter((id) => !s.participants[id]?.local && playable(s.participants[id]?.tracks.audio)),
      itemsEqual,
    );
    const participants = useStoreSelector((s) => s.participants);
    const screens = useStoreSelector(
      (s) =>
        s.ids.filter((id) => {
          const p = s.participants[id];
          return p && (playLocalScreenAudio || !p.local) && playable(p.tracks.screenAudio);
        }),
      itemsEqual,
    );
    const rmp = useStoreSelector((s) => s.ids.filter((id) => playable(s.participants[id]?.tracks.rmpAudio)), itemsEqual);
    const [speakers, setSpeakers] = useState<string[]>([]);
    useEffect(() => {
      setSpeakers((previous) => assignSpeakers(previous, candidates, activeId, participants, maxSpeakers));
    }, [candidates, activeId, participants, maxSpeakers]);

    useImperativeHandle(
      ref,
      () => {
        const one = (selector: string) => container.current?.querySelector<HTMLAudioElement>(selector) ?? null;
        const all = (selector: string) => Array.from(container.current?.querySelectorAll<HTMLAudioElement>(selector) ?? []);
        return {
          getAllAudio: () => all("audio"),
          getActiveSpeakerAudio: () => one(`audio[data-session-id="${activeId}"][data-audio-type="audio"]`),
          getRmpAudio: () => all('audio[data-audio-type="rmpAudio"]'),
          getScreenAudio: () => all('audio[data-audio-type="screenAudio"]'),
          getAudioBySessionId: (id) => one(`audio[data-session-id="${id}"][data-audio-type="audio"]`),
          getRmpAudioBySessionId: (id) => one(`audio[data-session-id="${id}"][data-audio-type="rmpAudio"]`),
          getScreenAudioBySessionId: (id) => one(`audio[data-session-id="${id}"][data-audio-type="screenAudio"]`),
        };
      },
      [activeId],
    );

    return (
      <div ref={container}>
        {speakers.map((id) => (
          <DailyAudioTrack key={`speaker-${id}`} onPlayFailed={onPlayFailed} sessionId={id} type="audio" />
        ))}
        {screens.map((id) => (
          <DailyAudioTrack key={`screen-${id}`} onPlayFailed={onPlayFailed} sessionId={id} type="screenAudio" />
        ))}
        {rmp.map((id) => (
          <DailyAudioTrack key={`rmp-${id}`} onPlayFailed={onPlayFailed} sessionId={id} type="rmpAudio" />
        ))}
      </div>
    );
  }),
);
DailyAudio.displayName = "DailyAudio";
