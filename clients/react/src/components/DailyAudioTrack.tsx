import { type AudioHTMLAttributes, forwardRef, memo, useCallback, useEffect, useMemo, useRef } from "react";

import { useDailyEvent } from "../hooks/useDailyEvent";
import { useMediaTrack } from "../hooks/useMediaTrack";
import type { DailyEventObject } from "../types";
import { mergeRefs } from "./mergeRefs";

export interface DailyAudioPlayException {
  name?: string;
  message?: string;
  sessionId: string;
  target: HTMLAudioElement;
  type: string;
}

export interface DailyAudioTrackProps extends AudioHTMLAttributes<HTMLAudioElement> {
  onPlayFailed?(e: DailyAudioPlayException): void;
  sessionId: string;
  type?: "audio" | "screenAudio" | "rmpAudio";
}

/** An <audio> playing one participant's track (https://docs.daily.co/reference/daily-react/daily-audio-track). */
export const DailyAudioTrack = memo(
  forwardRef<HTMLAudioElement, DailyAudioTrackProps>(function DailyAudioTrack(
    { onPlayFailed, sessionId, type = "audio", ...props },
    ref,
  ) {
    const audioEl = useRef<HTMLAudioElement | null>(null);
    const setRef = useMemo(() => mergeRefs(audioEl, ref), [ref]);
    const audio = useMediaTrack(sessionId, type);
    const track = audio.persistentTrack ?? null;

    useEffect(() => {
      const el = audioEl.current;
      if (!el || !track) return;
      const fail = (err: { name?: string; message?: string }) =>
        onPlayFailed?.({ sessionId, target: el, type, message: err.message, name: err.name });
      // Play once the new stream's metadata is there (Safari can skip canplay on a swap).
      const play = () => void el.play().catch(fail);
      el.addEventListener("loadedmetadata", play);
      el.srcObject = new MediaStream([track]);
      el.load();
      return () => el.removeEventListener("loadedmetadata", play);
    }, [track, onPlayFailed, sessionId, type]);

    useDailyEvent(
      "participant-left",
      useCallback(
        (ev: DailyEventObject) => {
          if (ev.participant?.session_id === sessionId && audioEl.current) audioEl.current.srcObject = null;
        },
        [sessionId],
      ),
    );
    useDailyEvent(
      "left-meeting",
      useCallback(() => {
        const el = audioEl.current;
        if (!el) return;
        el.pause();
        el.srcObject = null;
      }, []),
    );

    return (
      <audio
        autoPlay
        ref={setRef}
        {...props}
        data-session-id={sessionId}
        data-audio-type={type}
        data-subscribed={audio.subscribed === undefined ? undefined : String(audio.subscribed)}
      />
    );
  }),
);
DailyAudioTrack.displayName = "DailyAudioTrack";
