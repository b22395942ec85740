import { type CSSProperties, type VideoHTMLAttributes, forwardRef, useEffect, useMemo, useRef } from "react";

import { useLocalSessionId } from "../hooks/useLocalSessionId";
import { useMediaTrack } from "../hooks/useMediaTrack";
import { mergeRefs } from "./mergeRefs";

export interface DailyVideoDimensions {
  aspectRatio: number;
  height: number;
  width: number;
}

export interface DailyVideoProps extends Omit<VideoHTMLAttributes<HTMLVideoElement>, "onResize"> {
  /** Mirror the local user-facing camera automatically. */
  automirror?: boolean;
  /** object-fit of the video: 'contain' (default) or 'cover'. */
  fit?: "contain" | "cover";
  /** Force mirroring on or off. */
  mirror?: boolean;
  /** Styles applied while the video is playable. */
  playableStyle?: CSSProperties;
  /** Called when the video's native size changes. */
  onResize?(dimensions: DailyVideoDimensions): void;
  /** The participant whose video to render. */
  sessionId: string;
  /** Which video track. */
  type?: "video" | "screenVideo" | "rmpVideo";
}

/**
 * A <video> showing a participant's track (https://docs.daily.co/reference/daily-react/daily-video),
 * with daily-react's data attributes (data-session-id, data-video-type, data-playable,
 * data-local, data-mirrored, data-subscribed) for styling.
 */
export const DailyVideo = forwardRef<HTMLVideoElement, DailyVideoProps>(function DailyVideo(
  { automirror, fit = "contain", mirror, onResize, playableStyle = {}, sessionId, style = {}, type = "video", ...props },
  ref,
) {
  const localId = useLocalSessionId();
  const isLocal = localId === sessionId;
  const isScreen = type === "screenVideo";
  const isLocalCam = isLocal && !isScreen;
  const videoEl = useRef<HTMLVideoElement | null>(null);
  const setRef = useMemo(() => mergeRefs(videoEl, ref), [ref]);
  const video = useMediaTrack(sessionId, type);
  const track = video.persistentTrack ?? null;
  // As daily-react: the local camera and any screen share count as playable at once.
  const isPlayable = isLocalCam || isScreen || !video.isOff;

  const isMirrored = useMemo(() => {
    if (typeof mirror === "boolean") return mirror;
    if (!automirror) return false;
    if (!track) return isLocalCam;
    const settings = track.getSettings();
    return "facingMode" in settings ? isLocalCam && settings.facingMode === "user" : isLocalCam;
  }, [automirror, isLocalCam, mirror, track]);

  // Autoplay can be refused: retry on canplay, show controls when it stays refused.
  useEffect(() => {
    const el = videoEl.current;
    if (!el) return;
    const play = () => {
      el.play()
        .then(() => {
          el.controls = false;
        })
        .catch((err: unknown) => {
          el.controls = true;
          console.warn("Failed to play video", err);
        });
    };
    const onCanPlay = () => el.paused && play();
    const onVisible = () => document.visibilityState !== "hidden" && el.paused && play();
    el.addEventListener("canplay", onCanPlay);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      el.removeEventListener("canplay", onCanPlay);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, []);

  useEffect(() => {
    const el = videoEl.current;
    if (!el || !track) return;
    el.srcObject = new MediaStream([track]);
    el.load();
    return () => {
      el.srcObject = null;
      el.load();
    };
  }, [track, track?.id]);

  useEffect(() => {
    const el = videoEl.current;
    if (!onResize || !el) return;
    let frame = 0;
    const report = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (!el.videoWidth || !el.videoHeight || document.hidden) return;
        onResize({ aspectRatio: el.videoWidth / el.videoHeight, height: el.videoHeight, width: el.videoWidth });
      });
    };
    report();
    el.addEventListener("loadedmetadata", report);
    el.addEventListener("resize", report);
    return () => {
      cancelAnimationFrame(frame);
      el.removeEventListener("loadedmetadata", report);
      el.removeEventListener("resize", report);
    };
  }, [onResize]);

  return (
    <video
      autoPlay
      muted
      playsInline
      ref={setRef}
      data-local={isLocal}
      data-mirrored={isMirrored || undefined}
      data-playable={isPlayable || undefined}
      data-session-id={sessionId}
      data-subscribed={video.subscribed === undefined ? undefined : String(video.subscribed)}
      data-video-type={type}
      style={{ objectFit: fit, transform: isMirrored ? "scale(-1, 1)" : "", ...style, ...(isPlayable ? playableStyle : {}) }}
      {...props}
    />
  );
});
DailyVideo.displayName = "DailyVideo";
