// The factory apps know as `DailyIframe` / `Daily`: createCallObject, createFrame and
// Daily's static helpers. One factory per build entry; `scriptUrl` is where this
// library was loaded from (a default openreplica server for hosted room URLs).

import { CallObject } from "./call-object.js";
import { CallFrame } from "./call-frame.js";
import { addCompatMethods } from "./compat.js";
import { serverOfScript } from "./urls.js";

export const VERSION = "0.2.0";

addCompatMethods(CallObject);
addCompatMethods(CallFrame);

export function createFactory({ scriptUrl } = {}) {
  const scriptServer = serverOfScript(scriptUrl);
  // The openreplica server for hosted-style room URLs: window.OPENREPLICA_SERVER when a
  // page sets it (read at join time, so it may be set after the script loads), else the
  // server this script came from.
  const env = { server: () => globalThis.OPENREPLICA_SERVER || scriptServer };
  let current;
  return {
    VERSION,
    createCallObject(properties) {
      current = new CallObject(properties, env);
      return current;
    },
    createFrame(parentOrProperties, properties) {
      const hasParent = parentOrProperties && typeof parentOrProperties === "object" && "appendChild" in parentOrProperties;
      current = new CallFrame(hasParent ? parentOrProperties : null, hasParent ? properties : parentOrProperties, env);
      return current;
    },
    getCallInstance() {
      return current && !current.isDestroyed() ? current : undefined;
    },
    supportedBrowser() {
      const ok = typeof globalThis.RTCPeerConnection === "function";
      return {
        supported: ok,
        mobile: /Mobi|Android/i.test((globalThis.navigator && navigator.userAgent) || ""),
        name: "",
        version: "",
        supportsFullscreen: false,
        supportsScreenShare: false,
        supportsSfu: false,
        supportsVideoProcessing: false,
        supportsAudioProcessing: false,
      };
    },
    version() {
      return VERSION;
    },
  };
}
