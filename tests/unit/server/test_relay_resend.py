"""The relay's unacknowledged interactions and the owner's acknowledgements
(server/relay_resend.py): what is sent again after a switch, what an owner skips."""

from __future__ import annotations

import asyncio

from openreplica.server.relay_resend import ACK_DELAY, Handled, Inbound, Unacked, is_control


class Owner:
    """One owner process's end of one pipe: what reached its channel, what it acked."""

    def __init__(self, handled: Handled, conversation: str | None = None) -> None:
        self.channel: list[bytes] = []
        self.acks: list[bytes] = []
        self.waited: list[float] = []
        self.inbound = Inbound(handled, self._ack, self._sleep, conversation=conversation)

    async def _sleep(self, seconds: float) -> None:
        self.waited.append(seconds)

    async def _ack(self, frame: bytes) -> None:
        self.acks.append(frame)

    async def take(self, frames: list[bytes]) -> None:
        for frame in frames:
            if self.inbound.accept(frame):
                self.channel.append(frame)
                self.inbound.done()
        for _ in range(3):  # the acknowledgement task runs
            await asyncio.sleep(0)


async def test_what_the_dead_owner_did_not_acknowledge_goes_to_the_new_one_once() -> None:
    relay = Unacked()
    first = Owner(Handled())
    await first.take([relay.header()])
    for text in (b"a", b"b"):
        relay.sent(text)
        await first.take([text])
    for ack in first.acks:
        relay.on_control(ack)
    assert relay.pending() == []  # both handled and acknowledged
    relay.sent(b"c")  # into the pipe of an owner that has died: never handled
    relay.sent(b"d")
    assert relay.pending() == [b"c", b"d"]

    second = Owner(Handled())  # the node that took the conversation over
    await second.take([relay.header(), *relay.pending()])
    assert second.channel == [b"c", b"d"]
    assert second.acks[-1] == b"\0ack 4"  # the connection's numbers, across pipes
    relay.on_control(second.acks[-1])
    assert relay.pending() == []


async def test_sent_again_to_the_same_owner_process_it_is_skipped_and_acknowledged() -> None:
    relay = Unacked()
    handled = Handled()  # one per node: shared by its pipes
    first = Owner(handled)
    await first.take([relay.header()])
    relay.sent(b"a")
    await first.take([b"a"])  # handled; the relay has not read the ack yet
    again = Owner(handled)  # the relay moved twice, to the same node
    await again.take([relay.header(), *relay.pending()])
    assert again.channel == []  # not handled twice
    assert again.acks == [b"\0ack 1"]
    relay.sent(b"b")  # numbering goes on after the skipped one
    await again.take([b"b"])
    assert again.channel == [b"b"] and again.acks[-1] == b"\0ack 2"


async def test_a_handover_gives_the_new_owner_how_far_the_old_one_got() -> None:
    relay, other = Unacked(), Unacked()
    old_node = Handled()
    old, old_other = Owner(old_node, "c1"), Owner(old_node, "c2")
    await old.take([relay.header()])
    await old_other.take([other.header()])
    for text in (b"a", b"b"):
        relay.sent(text)
    await old.take([b"a", b"b"])  # handled; the relay has not read the acknowledgement
    other.sent(b"x")
    await old_other.take([b"x"])  # another conversation's connection: not handed over
    relay.sent(b"c")  # sent after the halt: the old owner neither handles nor acks it
    handed = old_node.of_conversation("c1")
    assert handed == {relay.connection: 2}

    new_node = Handled()
    new_node.seed("c1", handed)  # with the conversation, before any relay reaches it
    new = Owner(new_node, "c1")
    await new.take([relay.header(), *relay.pending()])
    assert new.channel == [b"c"]  # a and b were handled by the old owner: once each
    assert new.acks[-1] == b"\0ack 3"
    assert new_node.of_conversation("c1") == {relay.connection: 3}


def test_a_forgotten_connection_is_not_handed_over() -> None:
    handled = Handled(remembered=1)
    handled.set("r1", 4, "c1")
    handled.set("r2", 1, "c1")  # r1 forgotten: the newest one only
    assert handled.of_conversation("c1") == {"r2": 1}


async def test_a_relay_that_numbers_nothing_is_served_without_acknowledgements() -> None:
    owner = Owner(Handled())
    await owner.take([b'{"a": 1}', b'{"b": 2}'])
    assert owner.channel == [b'{"a": 1}', b'{"b": 2}'] and owner.acks == []
    await owner.take([b"\0from x notanumber"])  # malformed: ignored, never handled
    assert owner.channel == [b'{"a": 1}', b'{"b": 2}']


async def test_a_burst_is_acknowledged_once_then_the_next_waits_the_delay() -> None:
    relay = Unacked()
    owner = Owner(Handled())
    await owner.take([relay.header()])
    frames = [b"a", b"b", b"c"]
    for frame in frames:
        relay.sent(frame)
    await owner.take(frames)  # handled in one go: one acknowledgement covers them
    assert owner.waited == [ACK_DELAY] and owner.acks == [b"\0ack 3"]


def test_the_relay_keeps_its_bytes_bounded_too() -> None:
    relay = Unacked(kept=10, kept_bytes=5)
    for text in (b"abc", b"de", b"f"):
        relay.sent(text)
    assert relay.pending() == [b"de", b"f"]  # "abc" dropped: 6 bytes > 5
    relay.on_control(b"\0ack 2")
    relay.sent(b"ghij")  # 1 + 4 bytes kept: fits
    assert relay.pending() == [b"f", b"ghij"]


def test_the_relay_keeps_a_bounded_number_and_numbers_the_pipe_from_the_oldest_kept() -> None:
    relay = Unacked(kept=2)
    for text in (b"a", b"b", b"c"):
        relay.sent(text)
    assert relay.pending() == [b"b", b"c"]
    assert relay.header().endswith(b" 1")  # the next frame is message 2
    relay.on_control(b"\0ack junk")  # malformed: nothing dropped
    relay.on_control(b"\0ack 2")
    assert relay.pending() == [b"c"]
    assert is_control(relay.header()) and not is_control(b'{"x": 1}')
