// Daily-shaped participant objects (daily-js `DailyParticipant`, see
// https://docs.daily.co/reference/daily-js/instance-methods/participants). The local
// participant is keyed `local`; the replica by its session_id. Track states are Daily's:
// `blocked` | `off` | `sendable` | `loading` | `interrupted` | `playable`; `track` is only
// set when the state is `playable`, `persistentTrack` whenever a track exists (Daily's
// "not-guaranteed-playable reference").

export const REPLICA_SESSION_ID = "replica";

const NO_TRACK = Object.freeze({ subscribed: false, state: "off", off: { byUser: true } });

/**
 * One track's state. info: {track, off (the user turned it off), blocked (camera-error
 * reason object), loading (being acquired), interrupted (connection lost), remote}.
 */
export function trackState({ track = null, off = false, blocked = null, loading = false, interrupted = false, remote = false }) {
  const subscribed = remote ? true : false;
  if (blocked) return { subscribed, state: "blocked", blocked: { ...blocked } };
  if (!track) {
    if (loading) return { subscribed, state: "loading" };
    return { subscribed, state: "off", off: { byUser: !remote } };
  }
  if (off || track.enabled === false) {
    return { subscribed, state: "off", off: { byUser: true }, persistentTrack: track };
  }
  if (interrupted) return { subscribed, state: "interrupted", persistentTrack: track };
  if (track.readyState === "ended") return { subscribed, state: "off", off: { byUser: !remote } };
  // A remote track is muted until its first packets arrive (WebRTC): Daily's "loading".
  if (remote && track.muted) return { subscribed, state: "loading", persistentTrack: track };
  return { subscribed, state: "playable", track, persistentTrack: track };
}

function participant({ sessionId, userId, userName, local, joinedAt, audio, video, owner = false }) {
  const audioOn = audio.state === "playable" || (local && audio.state === "loading");
  const videoOn = video.state === "playable" || (local && video.state === "loading");
  return {
    session_id: sessionId,
    user_id: userId,
    user_name: userName,
    local,
    owner,
    joined_at: joinedAt || undefined,
    will_eject_at: new Date(0),
    audio: audioOn,
    video: videoOn,
    screen: false,
    record: false,
    permissions: { hasPresence: true, canSend: true, canAdmin: false },
    tracks: { audio, video, screenAudio: { ...NO_TRACK }, screenVideo: { ...NO_TRACK } },
    // Deprecated in daily-js but still read by older apps.
    audioTrack: audio.persistentTrack || false,
    videoTrack: video.persistentTrack || false,
    screenVideoTrack: false,
    screenAudioTrack: false,
    cam_info: {},
    screen_info: {},
  };
}

/** The local participant: user_id defaults to the session_id, as in Daily without a token. */
export function localParticipant({ sessionId, userName = "", userData, joinedAt, audio, video }) {
  const p = participant({ sessionId, userId: sessionId, userName, local: true, joinedAt, audio, video, owner: false });
  if (userData !== undefined) p.userData = userData;
  return p;
}

/** The replica: user_id contains `tavus-replica` (apps find the replica that way) and
 * user_name is the persona's name. */
export function replicaParticipant({ replicaId, name, joinedAt, audio, video }) {
  return participant({
    sessionId: REPLICA_SESSION_ID,
    userId: `tavus-replica-${replicaId || "replica"}`,
    userName: name || "Replica",
    local: false,
    joinedAt,
    audio,
    video,
  });
}

/** The replica participant among participants() (what CVI apps look for). */
export function findReplica(participants) {
  return Object.values(participants).find((p) => !p.local && String(p.user_id).includes("tavus-replica")) || null;
}
