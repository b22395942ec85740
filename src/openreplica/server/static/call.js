// The call page at /c/{conversation_id}: joins over WebRTC with openreplica.js, shows the
// replica, sends the microphone (and camera), chat, interrupt, captions and a transcript.
import OpenReplica from "./openreplica.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const params = new URLSearchParams(location.search);
const embedded = params.get("embed") === "1" && window.parent !== window;
const wantCamera = params.get("camera") !== "0";

const call = OpenReplica.createCallObject({
  audioSource: true,
  videoSource: wantCamera,
  userName: params.get("name") || "",
});
window.openreplicaCall = call; // for debugging from the console (and the browser test)

// ------------------------------------------------------------------ view state

const STATUS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Conversation ended",
  left: "You left",
  error: "Cannot connect",
};

function setView(state) {
  app.dataset.state = state;
  $("status-text").textContent = STATUS[state] || state;
  const canTalk = state === "live";
  $("message").disabled = !canTalk;
  $("send").disabled = !canTalk;
  $("interrupt").disabled = !canTalk;
  if (state !== "live") setSpeaking(false);
}

function showOverlay({ title, text = "", spinner = false, action = null }) {
  $("overlay").hidden = false;
  $("overlay-title").textContent = title;
  $("overlay-text").textContent = text;
  $("overlay-spinner").hidden = !spinner;
  const button = $("overlay-action");
  button.hidden = !action;
  if (action) {
    button.textContent = action.label;
    button.onclick = action.run;
  }
}
const hideOverlay = () => ($("overlay").hidden = true);

let toastTimer = null;
function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4500);
}

function setSpeaking(on) {
  app.classList.toggle("speaking", on);
  $("replica-state").textContent = on ? "speaking" : "";
}

// ------------------------------------------------------------------ call timer

let startedAt = null;
setInterval(() => {
  if (!startedAt || app.dataset.state !== "live") return;
  const s = Math.floor((Date.now() - startedAt) / 1000);
  $("timer").textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}, 1000);

// ------------------------------------------------------------------ media

const video = $("replica-video");
const audio = $("replica-audio");
const remote = new MediaStream();

function playAudio() {
  audio.play().then(
    () => ($("unmute").hidden = true),
    () => ($("unmute").hidden = false), // autoplay blocked until the user interacts
  );
}
$("unmute").onclick = playAudio;

call.on("track-started", ({ track }) => {
  for (const old of remote.getTracks()) if (old.kind === track.kind) remote.removeTrack(old);
  remote.addTrack(track);
  if (track.kind === "video") {
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
  } else {
    audio.srcObject = new MediaStream([track]);
    playAudio();
  }
});
video.addEventListener("playing", () => app.classList.add("has-video"));

call.on("local-media", ({ audio: mic, video: cam }) => {
  $("mic").disabled = !mic;
  $("cam").disabled = !cam;
  if (!mic) toast("No microphone: you can still type to the replica.");
  if (cam) {
    const self = $("self-view");
    self.srcObject = new MediaStream([cam]);
    self.hidden = false;
  }
});

$("mic").onclick = () => {
  call.setLocalAudio(!call.localAudio());
  const muted = !call.localAudio();
  $("mic").setAttribute("aria-pressed", String(muted));
  $("mic-label").textContent = muted ? "Unmute" : "Mute";
};
$("cam").onclick = () => {
  call.setLocalVideo(!call.localVideo());
  const off = !call.localVideo();
  $("cam").setAttribute("aria-pressed", String(off));
  $("self-view").hidden = off;
};
$("cc").onclick = () => {
  const on = $("cc").getAttribute("aria-pressed") !== "true";
  $("cc").setAttribute("aria-pressed", String(on));
  app.classList.toggle("no-captions", !on);
};
$("interrupt").onclick = () => call.interrupt();
$("leave").onclick = () => call.leave();

document.addEventListener("keydown", (ev) => {
  if (ev.target instanceof HTMLInputElement) return;
  if (ev.key === "Escape") $("interrupt").click();
  else if (ev.key === "m" || ev.key === "M") $("mic").click();
  else if (ev.key === "c" || ev.key === "C") $("cc").click();
  else if (ev.key === "v" || ev.key === "V") $("cam").click();
});

// ------------------------------------------------------------------ chat

$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("message");
  const text = input.value.trim();
  if (!text) return;
  call.respond(text);
  input.value = "";
});

// ------------------------------------------------------------------ transcript + captions

const transcript = $("transcript");
const bubbles = new Map(); // inference_id (replica) or seq (user) -> element

function atBottom() {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 60;
}

function addMessage(role, text, key) {
  $("transcript-empty")?.remove();
  const stick = atBottom();
  const li = document.createElement("li");
  li.className = `msg ${role}`;
  if (role !== "notice") {
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : call.replica.persona_name || call.replica.name || "Replica";
    li.append(who);
  }
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  li.append(bubble);
  transcript.append(li);
  if (key !== undefined) bubbles.set(key, li);
  if (stick) transcript.scrollTop = transcript.scrollHeight;
  return li;
}

function replicaBubble(id, text, { live = false, interrupted = false } = {}) {
  let li = bubbles.get(id);
  if (!li) li = addMessage("replica", text, id);
  const stick = atBottom();
  li.querySelector(".bubble").textContent = text;
  li.classList.toggle("live", live);
  if (interrupted && !li.querySelector(".tag")) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "interrupted";
    li.append(tag);
  }
  if (stick) transcript.scrollTop = transcript.scrollHeight;
}

const captions = $("captions");
let captionTimer = null;
function caption(text, { final = false } = {}) {
  clearTimeout(captionTimer);
  // Show the tail of long utterances: the last ~2 lines are what is being said.
  const words = text.split(/\s+/);
  $("caption-text").textContent = words.length > 28 ? `… ${words.slice(-28).join(" ")}` : text;
  captions.classList.toggle("idle", !text);
  if (final) captionTimer = setTimeout(() => captions.classList.add("idle"), 2500);
}
captions.classList.add("idle");

call.on("app-message", ({ data }) => {
  const p = data.properties || {};
  switch (data.event_type) {
    case "system.replica_joined":
      break;
    case "conversation.replica.started_speaking":
      setSpeaking(true);
      break;
    case "conversation.replica.stopped_speaking":
      setSpeaking(false);
      break;
    case "conversation.user.started_speaking":
      $("listening").hidden = false;
      break;
    case "conversation.user.stopped_speaking":
      $("listening").hidden = true;
      break;
    case "conversation.utterance":
      if (p.role === "user") addMessage("user", p.speech, `u${data.seq}`);
      else if (!bubbles.has(data.inference_id)) replicaBubble(data.inference_id, p.speech, { live: true });
      break;
    case "conversation.utterance.streaming":
      if (p.role === "user") break;
      replicaBubble(data.inference_id, p.speech, { live: !p.final, interrupted: !!p.is_interrupted });
      caption(p.speech, { final: !!p.final });
      break;
    case "conversation.tool_call":
      addMessage("notice", `Tool call: ${p.name}`);
      break;
    case "system.error":
      toast(p.message || p.code || "error");
      break;
  }
  if (embedded) window.parent.postMessage({ openreplica: "event", type: "app-message", detail: { data, fromId: "replica" } }, "*");
});

// ------------------------------------------------------------------ connection states

call.on("reconnecting", ({ reason }) => {
  setView("reconnecting");
  showOverlay({ title: "Connection lost", text: `Reconnecting… (${reason})`, spinner: true });
});
call.on("reconnected", () => {
  setView("live");
  hideOverlay();
  addMessage("notice", "Reconnected");
});
call.on("conversation-ended", () => {
  setView("ended");
  caption("", { final: true });
  showOverlay({ title: "This conversation has ended", text: "Thanks for talking. You can close this page." });
  addMessage("notice", "The conversation ended");
  for (const t of call.participants().local.tracks.audio.persistentTrack ? [call.participants().local.tracks.audio.persistentTrack] : []) t.enabled = false;
});
call.on("left-meeting", ({ ended }) => {
  if (ended || call.meetingState() === "error") return; // the ended / error view stays
  setView("left");
  showOverlay({ title: "You left the call", text: "The replica is still here for a while.", action: { label: "Rejoin", run: () => location.reload() } });
});
call.on("error", ({ errorMsg, status }) => {
  setView("error");
  const title = status === 404 ? "Conversation not found" : status === 401 ? "Not authorised" : "Cannot connect";
  const text = status === 401 ? "This link needs a valid token (?t=…)." : errorMsg;
  showOverlay({ title, text, action: status === 404 || status === 401 ? null : { label: "Try again", run: () => location.reload() } });
});

// ------------------------------------------------------------------ embedding (createFrame)

// Participant objects without their MediaStreamTracks (which cannot cross postMessage).
function portable(detail) {
  return JSON.parse(JSON.stringify(detail || {}, (key, value) =>
    ["track", "persistentTrack", "audioTrack", "videoTrack"].includes(key) ? undefined : value));
}

if (embedded) {
  const forwarded = ["joined-meeting", "left-meeting", "conversation-ended", "error", "camera-error",
    "nonfatal-error", "participant-joined", "participant-updated", "participant-left"];
  for (const type of forwarded) {
    call.on(type, (detail) => window.parent.postMessage({ openreplica: "event", type, detail: portable(detail) }, "*"));
  }
  window.addEventListener("message", (ev) => {
    const m = ev.data;
    if (ev.source !== window.parent || !m) return;
    if (m.openreplica === "send") call.sendAppMessage(m.message, "*"); // openreplica.js 0.1
    if (m.openreplica !== "command") return;
    if (m.command === "send") call.sendAppMessage(m.message, m.to || "*");
    else if (m.command === "set-local-audio") call.setLocalAudio(m.enabled);
    else if (m.command === "set-local-video") call.setLocalVideo(m.enabled);
    else if (m.command === "leave") call.leave();
  });
}

// ------------------------------------------------------------------ go

setView("connecting");
showOverlay({ title: "Joining the conversation…", spinner: true });
try {
  // lastSeq 0: the server replays the conversation so far, so the transcript is whole.
  await call.join({ url: location.href, lastSeq: 0 });
  const name = call.replica.persona_name || call.replica.name || "Replica";
  $("replica-name").textContent = name;
  $("placeholder-initial").textContent = name.slice(0, 1).toUpperCase();
  document.title = `${name} · openreplica`;
  startedAt = Date.now();
  if (call.state === "joined") {
    setView("live");
    hideOverlay();
    $("message").focus();
  }
} catch (err) {
  // "error" / "conversation-ended" handlers have shown why.
}
