"""aioice leaves 127.0.0.1 out of its host candidates; a server on loopback (local use,
tests in a loopback-only network namespace) needs it offered. The patch is opt-in
(`WebRTCSettings.loopback`) and applied once at server start."""

from __future__ import annotations

__all__ = ["enable_loopback_candidates"]


def enable_loopback_candidates() -> None:
    """Make aioice offer 127.0.0.1 as a host candidate (it leaves loopback out), so a
    browser or client on the same machine, or in a loopback-only network namespace, can
    connect. Idempotent; applied at server start when `WebRTCSettings.loopback` is set."""
    import aioice.ice

    original = aioice.ice.get_host_addresses
    if getattr(original, "openreplica_loopback", False):
        return

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses: list[str] = original(use_ipv4, use_ipv6)
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses = ["127.0.0.1", *addresses]
        return addresses

    with_loopback.openreplica_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = with_loopback
