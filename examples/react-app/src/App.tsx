/**
 * A small CVI app written against daily-react's API, as apps for the hosted system are:
 * the only openreplica-specific lines are the two package names in the imports and the
 * server URL (see docs/porting.md). It uses every hook and component the package has, and
 * shows what they return in the page (the browser test reads it from there).
 */
import {
  DailyAudio,
  type DailyAudioHandle,
  DailyProvider,
  DailyVideo,
  type DailyVideoDimensions,
  useActiveSpeakerId,
  useAppMessage,
  useAudioLevelObserver,
  useAudioTrack,
  useConversationTurns,
  useDaily,
  useDailyEvent,
  useDevices,
  useLocalSessionId,
  useMeetingState,
  useParticipantIds,
  useParticipantProperty,
  useReplicaSessionId,
  useScreenVideoTrack,
  useVideoTrack,
} from "@openreplica/daily-react";
import Daily from "@openreplica/daily-js";
import { useCallback, useEffect, useRef, useState } from "react";

interface AppMessage {
  event_type: string;
  message_type?: string;
  properties?: Record<string, unknown>;
  seq?: number;
}

declare global {
  interface Window {
    /** For the browser test: DailyAudio's imperative handle and the levels observed. */
    dailyAudio?: DailyAudioHandle | null;
    replicaLevels?: number[];
  }
}

function ReplicaTile({ sessionId }: { sessionId: string }) {
  const video = useVideoTrack(sessionId);
  const audio = useAudioTrack(sessionId);
  const screen = useScreenVideoTrack(sessionId);
  const [userName, userId] = useParticipantProperty<[string, string]>(sessionId, ["user_name", "user_id"]);
  const [size, setSize] = useState<DailyVideoDimensions | null>(null);
  const [peak, setPeak] = useState(0);
  useAudioLevelObserver(
    sessionId,
    useCallback((volume: number) => {
      (window.replicaLevels ??= []).push(volume);
      setPeak((p) => Math.max(p, volume));
    }, []),
  );
  return (
    <figure id="replica-tile">
      <DailyVideo sessionId={sessionId} type="video" fit="cover" automirror onResize={setSize} playableStyle={{ outline: "2px solid teal" }} style={{ width: 320, height: 320 }} />
      <figcaption>
        <span id="replica-name">{userName}</span> (<span id="replica-user-id">{userId}</span>) video{" "}
        <span id="video-state">{video.state}</span>, audio <span id="audio-state">{audio.state}</span>, screen{" "}
        <span id="screen-off">{String(screen.isOff)}</span>, size <span id="video-size">{size ? `${size.width}x${size.height}` : ""}</span>,
        peak level <span id="audio-peak">{peak.toFixed(3)}</span>
      </figcaption>
    </figure>
  );
}

function Call({ joinUrl, onLeft }: { joinUrl?: string; onLeft(): void }) {
  const daily = useDaily();
  const meetingState = useMeetingState();
  const localId = useLocalSessionId();
  const allIds = useParticipantIds();
  const [joinedEvents, setJoinedEvents] = useState<string[]>([]);
  const remoteIds = useParticipantIds({
    filter: "remote",
    sort: "user_name",
    onParticipantJoined: useCallback((ev: { participant?: { session_id: string } }) => {
      setJoinedEvents((list) => [...list, ev.participant?.session_id ?? "?"]);
    }, []),
  });
  const replicaId = useReplicaSessionId();
  const activeSpeaker = useActiveSpeakerId({ ignoreLocal: true });
  const { camState, micState, cameras, microphones, speakers, hasCamError } = useDevices();
  const turns = useConversationTurns();
  const [received, setReceived] = useState<AppMessage[]>([]);
  const [history, setHistory] = useState<string[]>([]);
  const [joinedMeeting, setJoinedMeeting] = useState(0);
  const audioRef = useRef<DailyAudioHandle | null>(null);

  const sendAppMessage = useAppMessage<AppMessage>({
    onAppMessage: useCallback((ev: { data: AppMessage }) => setReceived((list) => [...list, ev.data]), []),
  });
  useDailyEvent(
    "joined-meeting",
    useCallback(() => setJoinedMeeting((n) => n + 1), []),
  );
  useEffect(() => {
    if (meetingState) setHistory((h) => (h[h.length - 1] === meetingState ? h : [...h, meetingState]));
  }, [meetingState]);
  useEffect(() => {
    // Given to <DailyProvider> as a prop, the URL is the call object's already, and join()
    // needs no arguments (as with Daily); an app-made call object joins with {url}.
    if (daily && daily.meetingState() === "new") void daily.join(joinUrl ? { url: joinUrl } : undefined);
  }, [daily, joinUrl]);
  useEffect(() => {
    window.dailyAudio = audioRef.current;
  });

  const respond = () =>
    sendAppMessage({ message_type: "conversation", event_type: "conversation.respond", properties: { text: "hello from react" } }, "*");
  const echo = () =>
    sendAppMessage({ message_type: "conversation", event_type: "conversation.echo", properties: { modality: "text", text: "an echo from react" } });
  const leave = async () => {
    await daily?.leave();
    onLeft();
  };

  return (
    <main>
      <p>
        meeting <span id="meeting-state">{meetingState}</span> (history <span id="meeting-history">{history.join(",")}</span>,
        joined-meeting events <span id="joined-meeting">{joinedMeeting}</span>)
      </p>
      <p>
        local <span id="local-id">{localId}</span>; all <span id="participant-ids">{JSON.stringify(allIds)}</span>; remote{" "}
        <span id="remote-ids">{JSON.stringify(remoteIds)}</span>; participant-joined{" "}
        <span id="participant-joined">{JSON.stringify(joinedEvents)}</span>; replica <span id="replica-id">{replicaId ?? ""}</span>;
        active speaker <span id="active-speaker">{activeSpeaker ?? ""}</span>
      </p>
      <p>
        camera <span id="cam-state">{camState}</span> ({cameras.length} cameras, error {String(hasCamError)}), microphone{" "}
        <span id="mic-state">{micState}</span> (<span id="microphones">{microphones.length}</span> microphones),{" "}
        {speakers.length} speakers
      </p>
      {replicaId ? <ReplicaTile sessionId={replicaId} /> : null}
      {localId ? <DailyVideo sessionId={localId} type="video" automirror muted style={{ width: 160 }} /> : null}
      <DailyAudio ref={audioRef} maxSpeakers={3} onPlayFailed={(e) => console.warn("audio play failed", e.sessionId, e.message)} />
      <button id="respond" onClick={respond}>Say hello</button>
      <button id="echo" onClick={echo}>Echo</button>
      <button id="leave" onClick={leave}>Leave</button>
      <ol id="turns">
        {turns.map((t) => (
          <li key={`${t.turn_idx}-${t.inference_ids[0] ?? ""}`} data-turn={t.turn_idx ?? ""} data-user={t.user ?? ""} data-replica={t.replica ?? ""}>
            {t.user ? `you: ${t.user} ` : ""}
            {t.replica ? `replica: ${t.replica}` : ""}
          </li>
        ))}
      </ol>
      <ul id="received">
        {received.map((m, i) => (
          <li key={i} data-event={m.event_type} data-seq={m.seq ?? ""}>
            {m.event_type}
          </li>
        ))}
      </ul>
    </main>
  );
}

/** Creates a conversation on the server, then renders the call for it: the provider makes
 * the call object from props (`url`), or, with `callObject`, the app makes it itself and
 * hands it over, the two ways daily-react apps are written. */
export function App({ server, ownCallObject }: { server: string; ownCallObject: boolean }) {
  const [url, setUrl] = useState<string | null>(null);
  const [left, setLeft] = useState(false);
  const [callObject] = useState(() => (ownCallObject ? Daily.createCallObject() : null));
  useEffect(() => {
    fetch(`${server}/v2/conversations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ conversation_name: "react sample" }),
    })
      .then((r) => r.json())
      .then((c: { conversation_url: string }) => setUrl(c.conversation_url));
  }, [server]);
  if (!url) return <p id="status">creating a conversation…</p>;
  if (callObject) {
    return (
      <DailyProvider callObject={callObject}>
        <Call joinUrl={url} onLeft={() => setLeft(true)} />
      </DailyProvider>
    );
  }
  return (
    <DailyProvider url={url} userName="React sample">
      {left ? <p id="status">left</p> : null}
      <Call onLeft={() => setLeft(true)} />
    </DailyProvider>
  );
}
