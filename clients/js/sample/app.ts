// A CVI app written against Daily's API, type-checked against our declarations
// (`tsc --noEmit -p sample/tsconfig.json`): only the import differs from a daily-js app.
import DailyIframe, {
  DailyCall,
  DailyEventObjectAppMessage,
  DailyEventObjectCameraError,
  DailyEventObjectFatalError,
  DailyParticipant,
  DailyParticipantsObject,
  findReplica,
} from "@openreplica/daily-js";

function findReplicaTile(participants: DailyParticipantsObject): DailyParticipant | undefined {
  return Object.values(participants).find((p) => p.user_id.includes("tavus-replica"));
}

export async function run(conversationUrl: string, video: HTMLVideoElement): Promise<void> {
  const call: DailyCall = DailyIframe.createCallObject({ videoSource: false, userName: "Ann", openreplicaServer: "http://127.0.0.1:8000" });
  call
    .on("app-message", (ev: DailyEventObjectAppMessage) => console.log(ev.fromId, ev.data.event_type))
    .on("camera-error", (ev: DailyEventObjectCameraError) => console.warn(ev.error.type, ev.errorMsg.errorMsg))
    .on("error", (ev: DailyEventObjectFatalError) => console.error(ev.errorMsg, ev.error?.type))
    .on("participant-joined", ({ participant }) => console.log(participant.user_name))
    .on("participant-left", ({ participant }) => console.log(participant.session_id))
    .on("track-started", ({ track, participant }) => {
      if (participant && !participant.local && track.kind === "video") video.srcObject = new MediaStream([track]);
    });
  await call.startCamera({ startVideoOff: true });
  const joined = await call.join({ url: conversationUrl, startAudioOff: false, inputSettings: { audio: { processor: { type: "noise-cancellation" } } } });
  if (joined) console.log(joined.local.session_id);
  const replica = findReplicaTile(call.participants()) ?? findReplica(call.participants());
  const state: "blocked" | "off" | "sendable" | "loading" | "interrupted" | "playable" | undefined = replica?.tracks.video.state;
  const track: MediaStreamTrack | undefined = replica?.tracks.audio.persistentTrack;
  console.log(state, track, call.meetingState() === "joined-meeting", call.localAudio(), call.participantCounts().present);
  call.sendAppMessage({ message_type: "conversation", event_type: "conversation.respond", properties: { text: "Hi" } }, "*");
  if (replica) call.sendAppMessage({ event_type: "conversation.interrupt" }, replica.session_id);
  call.setLocalAudio(false).setLocalVideo(true);
  call.startScreenShare();
  const devices = await call.getInputDevices();
  console.log(devices.camera, call.getActiveSpeaker().peerId);
  await call.leave();
  await call.destroy();
  // The openreplica helpers on the same object.
  const cvi = DailyIframe.createCallObject();
  cvi.on("turn", (turn) => console.log(turn.turn_idx, turn.user, turn.replica));
  await cvi.join({ url: "https://tavus.daily.co/c123", lastSeq: 0 });
  cvi.respond("hello").interrupt();
  console.log(cvi.lastSeq, cvi.getTurns().length, window.DailyIframe?.version());
}
