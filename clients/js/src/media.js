// Local camera and microphone: what to ask getUserMedia for (daily-js `audioSource` /
// `videoSource`: true, false, a deviceId string or a MediaStreamTrack), and Daily's
// `camera-error` shapes for what goes wrong
// (https://docs.daily.co/reference/daily-js/events/settings-events#camera-error): the
// browser's exceptions are normalised into `permissions`, `not-found`, `constraints`,
// `cam-in-use` / `mic-in-use` / `cam-mic-in-use`, `undefined-mediadevices`, `unknown`.

/** getUserMedia constraints for one kind, or null when nothing is to be opened. */
export function constraintsFor(kind, source, inputSettings) {
  if (source === false || source === null || source === undefined) return null;
  if (typeof source === "object") return null; // a MediaStreamTrack given by the app
  const base =
    kind === "audio"
      ? { echoCancellation: true, autoGainControl: true, noiseSuppression: noiseSuppression(inputSettings) }
      : { width: { ideal: 640 }, height: { ideal: 480 } };
  if (typeof source === "string") base.deviceId = { exact: source };
  return base;
}

function noiseSuppression(inputSettings) {
  const type = inputSettings && inputSettings.audio && inputSettings.audio.processor && inputSettings.audio.processor.type;
  return type !== "none";
}

/** A Daily camera-error `error` object for a getUserMedia failure. */
export function cameraErrorObject(err, kinds) {
  const name = (err && err.name) || "";
  const msg = (err && err.message) || String(err);
  const media = kinds.slice();
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return { type: "permissions", msg, blockedBy: /system/i.test(msg) ? "browser" : "user", blockedMedia: media };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError") {
    return { type: "not-found", msg, missingMedia: media };
  }
  if (name === "OverconstrainedError" || name === "ConstraintNotSatisfiedError") {
    // A deviceId that matches nothing is a missing device (Safari reports a missing
    // camera this way too, which Daily also calls `not-found`).
    if (err.constraint === "deviceId") return { type: "not-found", msg, missingMedia: media };
    return { type: "constraints", msg, reason: "invalid" };
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    const type = media.length === 2 ? "cam-mic-in-use" : media[0] === "video" ? "cam-in-use" : "mic-in-use";
    return { type, msg };
  }
  if (name === "TypeError") return { type: "constraints", msg, reason: "none-specified" };
  return { type: "unknown", msg };
}

/** Track-state `blocked` details for a camera-error object. */
export function blockedBy(error) {
  if (error.type === "permissions") return { byPermissions: true };
  if (error.type === "not-found") return { byDeviceMissing: true };
  if (/in-use/.test(error.type)) return { byDeviceInUse: true };
  return { byDeviceMissing: true };
}

/**
 * Open what is asked for. Returns {tracks: {audio, video}, errors: [{kinds, error}]}:
 * a failure of both together is retried one kind at a time, so a missing camera still
 * leaves the microphone working (and the reverse).
 */
export async function openMedia(mediaDevices, wants) {
  const tracks = { audio: null, video: null };
  const errors = [];
  const kinds = ["audio", "video"].filter((k) => wants[k]);
  if (kinds.length === 0) return { tracks, errors };
  if (!mediaDevices || typeof mediaDevices.getUserMedia !== "function") {
    errors.push({
      kinds,
      error: { type: "undefined-mediadevices", msg: "navigator.mediaDevices is not available (needs https or localhost)" },
    });
    return { tracks, errors };
  }
  const request = async (ks) => {
    const stream = await mediaDevices.getUserMedia({
      audio: ks.includes("audio") ? wants.audio : false,
      video: ks.includes("video") ? wants.video : false,
    });
    for (const track of stream.getTracks()) tracks[track.kind] = track;
  };
  try {
    await request(kinds);
  } catch (err) {
    if (kinds.length === 1) {
      errors.push({ kinds, error: cameraErrorObject(err, kinds) });
    } else {
      for (const kind of kinds) {
        try {
          await request([kind]);
        } catch (err2) {
          errors.push({ kinds: [kind], error: cameraErrorObject(err2, [kind]) });
        }
      }
    }
  }
  return { tracks, errors };
}

/** Daily's DailyDeviceInfos: the devices in use ({} when none). */
export async function deviceInfos(mediaDevices, tracks) {
  const result = { camera: {}, mic: {}, speaker: {} };
  if (!mediaDevices || typeof mediaDevices.enumerateDevices !== "function") return result;
  let devices = [];
  try {
    devices = await mediaDevices.enumerateDevices();
  } catch (_) {
    return result;
  }
  const byTrack = (track, kind) => {
    if (!track || typeof track.getSettings !== "function") return {};
    const id = track.getSettings().deviceId;
    return devices.find((d) => d.kind === kind && d.deviceId === id) || {};
  };
  result.camera = byTrack(tracks.video, "videoinput");
  result.mic = byTrack(tracks.audio, "audioinput");
  result.speaker = devices.find((d) => d.kind === "audiooutput" && d.deviceId === "default") || devices.find((d) => d.kind === "audiooutput") || {};
  return result;
}
