import { test } from "node:test";
import assert from "node:assert/strict";
import { offerUrl, parseConversationUrl, resolveJoinTarget, serverOfScript } from "../src/urls.js";

test("a conversation_url names its server, id and token", () => {
  assert.deepEqual(parseConversationUrl("http://127.0.0.1:8000/c/c123?t=tok"), {
    base: "http://127.0.0.1:8000",
    conversationId: "c123",
    token: "tok",
  });
  assert.deepEqual(resolveJoinTarget("https://host.example/prefix/c/c9/", { token: "given" }), {
    base: "https://host.example/prefix",
    conversationId: "c9",
    token: "given",
  });
});

test("a hosted room URL maps onto the openreplica server", () => {
  const target = resolveJoinTarget("https://tavus.daily.co/c0ffee12?t=abc", { server: "http://127.0.0.1:8000/" });
  assert.deepEqual(target, { base: "http://127.0.0.1:8000", conversationId: "c0ffee12", token: "abc" });
  assert.equal(resolveJoinTarget("https://someone.daily.co/room", { server: "http://h:1" }).conversationId, "room");
  assert.equal(resolveJoinTarget("c42", { server: "http://h:1" }).conversationId, "c42");
});

test("a hosted room URL without a known server says how to name it", () => {
  assert.throws(() => resolveJoinTarget("https://tavus.daily.co/c1"), /openreplicaServer/);
  assert.throws(() => resolveJoinTarget(""), /needs a url/);
  assert.throws(() => resolveJoinTarget("https://tavus.daily.co/", { server: "http://h:1" }), /no room name/);
  assert.throws(() => resolveJoinTarget("http://127.0.0.1:8000/other"), /not a conversation_url/);
});

test("the server a script was loaded from, only for the server's own static path", () => {
  assert.equal(serverOfScript("http://127.0.0.1:8000/static/openreplica.classic.js"), "http://127.0.0.1:8000");
  assert.equal(serverOfScript("https://h.example/api/static/openreplica.js"), "https://h.example/api");
  assert.equal(serverOfScript("https://app.example/assets/bundle.js"), null);
  assert.equal(serverOfScript(undefined), null);
});

test("the offer endpoint carries the token and last_seq", () => {
  const target = { base: "http://h:1", conversationId: "c 1", token: "t/k" };
  assert.equal(offerUrl(target, 7), "http://h:1/v2/conversations/c%201/webrtc/offer?t=t%2Fk&last_seq=7");
  assert.equal(offerUrl({ ...target, token: null }, null), "http://h:1/v2/conversations/c%201/webrtc/offer");
});
