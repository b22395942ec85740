import { useCallback, useEffect, useRef } from "react";

import type { DailyEventObject } from "../types";
import { useDaily } from "./useDaily";
import { useDailyEvent } from "./useDailyEvent";
import { useLocalSessionId } from "./useLocalSessionId";
import { useMediaTrack } from "./useMediaTrack";

/** daily-js's default observer interval (200 ms) and its minimum (100 ms):
 * https://docs.daily.co/reference/daily-js/instance-methods/start-remote-participants-audio-level-observer */
const DEFAULT_INTERVAL_MS = 200;
const MIN_INTERVAL_MS = 100;

/**
 * Calls `cb(volume)` (0.0 silence … 1.0 full scale) at `interval` ms for a participant's
 * audio (https://docs.daily.co/reference/daily-react/use-audio-level-observer). Uses the
 * call object's audio-level observers when it has them (Daily's); otherwise measures the
 * participant's audio track in the page with a WebAudio AnalyserNode (peak level).
 */
export const useAudioLevelObserver = (
  id: string,
  cb: (volume: number) => void,
  errorCb?: (errorMsg: string) => void,
  interval?: number,
): void => {
  const daily = useDaily();
  const localId = useLocalSessionId();
  const isLocal = id === localId;
  const native = Boolean(daily?.startRemoteParticipantsAudioLevelObserver && daily?.startLocalAudioLevelObserver);
  const { persistentTrack } = useMediaTrack(id, "audio");
  const callback = useRef(cb);
  callback.current = cb;

  useDailyEvent(
    "local-audio-level",
    useCallback((ev: DailyEventObject) => {
      if (native && isLocal && typeof ev.audioLevel === "number") callback.current(ev.audioLevel);
    }, [native, isLocal]),
  );
  useDailyEvent(
    "remote-participants-audio-level",
    useCallback((ev: DailyEventObject) => {
      const level = ev.participantsAudioLevel?.[id];
      if (native && !isLocal && typeof level === "number") callback.current(level);
    }, [native, isLocal, id]),
  );

  useEffect(() => {
    if (!daily || !native || daily.isDestroyed?.()) return;
    try {
      if (isLocal && !daily.isLocalAudioLevelObserverRunning?.()) void daily.startLocalAudioLevelObserver?.(interval);
      if (!isLocal && !daily.isRemoteParticipantsAudioLevelObserverRunning?.()) {
        void daily.startRemoteParticipantsAudioLevelObserver?.(interval);
      }
    } catch {
      errorCb?.("Audio level observer not supported in this browser");
    }
  }, [daily, native, isLocal, interval, errorCb]);

  useEffect(() => {
    if (native || !persistentTrack) return;
    if (typeof AudioContext === "undefined") {
      errorCb?.("Audio level observer not supported in this browser");
      return;
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    const source = context.createMediaStreamSource(new MediaStream([persistentTrack]));
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    void context.resume().catch(() => undefined);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const v of samples) peak = Math.max(peak, Math.abs(v));
      callback.current(Math.min(1, peak));
    }, Math.max(MIN_INTERVAL_MS, interval ?? DEFAULT_INTERVAL_MS));
    return () => {
      clearInterval(timer);
      source.disconnect();
      void context.close().catch(() => undefined);
    };
  }, [native, persistentTrack, interval, errorCb]);
};
