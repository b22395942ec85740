// Daily-shaped errors. A fatal `error` event is {action: "error", errorMsg, error: {type,
// msg, details?}} and `join()` rejects with that same object
// (https://docs.daily.co/reference/daily-js/events/error-events#error); `meetingState()`
// is then "error" and `left-meeting` follows.

/** An error while joining or connected; status is the HTTP status (0: no response). */
export class JoinError extends Error {
  constructor(message, { status = 0, fatal = false, on = "join" } = {}) {
    super(message);
    this.name = "JoinError";
    this.status = status;
    this.fatal = fatal;
    this.on = on;
  }
}

// HTTP refusals of the offer endpoint mapped onto Daily's fatal error types.
const FATAL_TYPES = {
  401: "not-allowed", // a missing or wrong meeting token
  403: "not-allowed",
  404: "no-room", // no such conversation
  410: "exp-room", // the conversation has ended
};

/** The payload of Daily's fatal `error` event for a JoinError (or any error). */
export function fatalErrorEvent(err) {
  const message = (err && err.message) || String(err || "error");
  const status = (err && err.status) || 0;
  const type = FATAL_TYPES[status];
  const error = type
    ? { type, msg: message }
    : {
        type: "connection-error",
        msg: message,
        details: { on: (err && err.on) || "join", sourceError: { message, status }, uri: (err && err.uri) || undefined },
      };
  return { errorMsg: message, error, status };
}

/** Daily's `nonfatal-error` payload fields. */
export function nonFatal(type, errorMsg, details) {
  return details === undefined ? { type, errorMsg } : { type, errorMsg, details };
}
