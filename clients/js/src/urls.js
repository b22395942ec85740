// Where a call goes. `join({url})` takes openreplica's own conversation_url
// (`http://HOST:PORT/c/ID[?t=TOKEN]`) or, so that porting an app is a configuration
// change, the hosted system's room URL (`https://tavus.daily.co/ID`, any `*.daily.co`
// room) or a bare conversation id, which need to know the openreplica server: the call
// object's `openreplicaServer` option, else the page-wide `window.OPENREPLICA_SERVER`,
// else the server this library was loaded from (when it was loaded from
// `…/static/openreplica*.js`).

const CONVERSATION_PATH = /^(.*)\/c\/([^/]+)\/?$/;
const HOSTED_HOST = /(^|\.)daily\.co$/i;
const SERVED_SCRIPT = /\/static\/openreplica(\.classic)?(\.min)?\.js$/;

export class UrlError extends Error {
  constructor(message) {
    super(message);
    this.name = "UrlError";
  }
}

function stripSlash(url) {
  return url.replace(/\/+$/, "");
}

/** The openreplica server that served this script, or null (e.g. when bundled). */
export function serverOfScript(scriptUrl) {
  if (!scriptUrl) return null;
  try {
    const u = new URL(scriptUrl);
    const match = u.pathname.match(SERVED_SCRIPT);
    if (!match) return null;
    return stripSlash(`${u.origin}${u.pathname.slice(0, match.index)}`);
  } catch (_) {
    return null;
  }
}

/** Where a conversation lives: {base, conversationId, token} from a conversation_url. */
export function parseConversationUrl(url, token, pageUrl) {
  const u = new URL(url, pageUrl);
  const match = u.pathname.match(CONVERSATION_PATH);
  if (!match) throw new UrlError(`not a conversation_url (…/c/ID): ${url}`);
  return {
    base: `${u.origin}${match[1]}`,
    conversationId: decodeURIComponent(match[2]),
    token: token ?? u.searchParams.get("t") ?? null,
  };
}

/**
 * The target of `join()`: url is a conversation_url, a hosted room URL or a bare id;
 * server is the openreplica server for the last two (null when none is known).
 */
export function resolveJoinTarget(url, { token, server, pageUrl } = {}) {
  if (typeof url !== "string" || url.trim() === "") {
    throw new UrlError("join() needs a url: the conversation_url, or a room URL with openreplicaServer set");
  }
  const text = url.trim();
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  if (absolute) {
    const u = new URL(text);
    if (!HOSTED_HOST.test(u.hostname)) return parseConversationUrl(text, token, pageUrl);
    const id = u.pathname.split("/").filter(Boolean)[0];
    if (!id) throw new UrlError(`no room name in ${url}`);
    return hostedTarget(id, token ?? u.searchParams.get("t"), server, url);
  }
  if (text.includes("/")) return parseConversationUrl(text, token, pageUrl);
  return hostedTarget(text, token, server, url);
}

function hostedTarget(id, token, server, url) {
  if (!server) {
    throw new UrlError(
      `${url} names a hosted room: tell the library where openreplica runs with ` +
        "createCallObject({ openreplicaServer: 'http://HOST:PORT' }) or window.OPENREPLICA_SERVER",
    );
  }
  return { base: stripSlash(new URL(server).href), conversationId: decodeURIComponent(id), token: token ?? null };
}

/** The offer endpoint of a target (SPEC §2.2). */
export function offerUrl({ base, conversationId, token }, lastSeq) {
  const query = new URLSearchParams();
  if (token) query.set("t", token);
  if (lastSeq !== null && lastSeq !== undefined) query.set("last_seq", String(lastSeq));
  const qs = query.toString();
  return `${base}/v2/conversations/${encodeURIComponent(conversationId)}/webrtc/offer${qs ? `?${qs}` : ""}`;
}
