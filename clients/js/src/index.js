// ES module entry: `import Daily from "@openreplica/daily-js"` (or
// "http://HOST:PORT/static/openreplica.js"). The default export is the Daily factory.

import { createFactory } from "./factory.js";

const Daily = createFactory({ scriptUrl: import.meta.url });

export default Daily;
export const createCallObject = (properties) => Daily.createCallObject(properties);
export const createFrame = (parent, properties) => Daily.createFrame(parent, properties);
export { CallObject } from "./call-object.js";
export { CallFrame } from "./call-frame.js";
export { VERSION, createFactory } from "./factory.js";
export { SeqOrderer } from "./ordering.js";
export { TurnGrouper } from "./turns.js";
export { REPLICA_SESSION_ID, findReplica, localParticipant, replicaParticipant, trackState } from "./participants.js";
export { offerUrl, parseConversationUrl, resolveJoinTarget, serverOfScript } from "./urls.js";
