"""A DHCPv4 discovery that never takes a lease: DHCPDISCOVER (RFC 2131) broadcast on the
link that routes to the server, then the server's DHCPOFFER; no DHCPREQUEST is ever sent.

Standard library only (what Debian's python3-minimal has: no json, no dataclasses), so
the same text runs on a peer host on the server's link as ``python3 - SERVER [PORT
[TIMEOUT]]`` with this file on stdin; it prints ``offer ADDRESS SERVER INTERFACE`` (exit
0) or ``error MESSAGE`` (exit 1). The controller imports it and calls :func:`discover`.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import time
from typing import NamedTuple

CLIENT_PORT, SERVER_PORT = 68, 67
BOOTREQUEST, BOOTREPLY = 1, 2
DISCOVER, OFFER = 1, 2
MAGIC_COOKIE = b"\x63\x82\x53\x63"
BROADCAST_FLAG = 0x8000
MESSAGE_TYPE, SERVER_ID, PARAMETERS, CLIENT_ID, PAD, END = 53, 54, 55, 61, 0, 255
#: Subnet mask, router, name servers, domain name, lease time, server id.
WANTED = bytes([1, 3, 6, 15, 51, 54])
RETRANSMIT_SECONDS = 2.0


class Offer(NamedTuple):
    address: str
    server: str
    options: dict[int, bytes]


def new_client() -> tuple[int, bytes]:
    """A random transaction ID and a random locally administered unicast MAC address."""
    mac = bytearray(os.urandom(6))
    mac[0] = (mac[0] & 0xFC) | 0x02
    return struct.unpack("!I", os.urandom(4))[0], bytes(mac)


def build_discover(xid: int, mac: bytes) -> bytes:
    """A DHCPDISCOVER with the broadcast flag (the client has no address to be answered at),
    message type, parameter request list and client identifier (type 1, the MAC)."""
    if len(mac) != 6:
        raise ValueError("an Ethernet address is 6 bytes")
    fixed = struct.pack("!BBBBIHH", BOOTREQUEST, 1, 6, 0, xid, 0, BROADCAST_FLAG) + bytes(16)
    fixed += mac + bytes(10) + bytes(64 + 128)
    options = bytes([MESSAGE_TYPE, 1, DISCOVER, CLIENT_ID, 7, 1]) + mac
    options += bytes([PARAMETERS, len(WANTED)]) + WANTED + bytes([END])
    packet = fixed + MAGIC_COOKIE + options
    return packet + bytes(max(0, 300 - len(packet)))  # BOOTP's minimum size


def parse_options(data: bytes) -> dict[int, bytes]:
    """The options after the magic cookie (pads skipped, stops at END or a truncated option)."""
    options: dict[int, bytes] = {}
    index = 0
    while index < len(data) and data[index] != END:
        code = data[index]
        if code == PAD:
            index += 1
            continue
        if index + 1 >= len(data) or index + 2 + data[index + 1] > len(data):
            break
        size = data[index + 1]
        options[code] = options.get(code, b"") + data[index + 2 : index + 2 + size]
        index += 2 + size
    return options


def parse_offer(packet: bytes, xid: int, mac: bytes) -> Offer | None:
    """The DHCPOFFER answering our DISCOVER, or None for any other packet."""
    if len(packet) < 240 or packet[236:240] != MAGIC_COOKIE:
        return None
    op, _, _, _, got = struct.unpack("!BBBBI", packet[:8])
    if op != BOOTREPLY or got != xid or packet[28:34] != mac:
        return None
    options = parse_options(packet[240:])
    if options.get(MESSAGE_TYPE) != bytes([OFFER]):
        return None
    server = options.get(SERVER_ID, packet[20:24])[:4]
    return Offer(socket.inet_ntoa(packet[16:20]), socket.inet_ntoa(server.ljust(4, b"\x00")), options)


def route(server: str) -> tuple[str, str | None]:
    """(interface, gateway or None) that reach ``server``: `ip -j route get` (read without a
    JSON parser, which python3-minimal lacks)."""
    output = subprocess.run(["ip", "-j", "route", "get", server], capture_output=True, text=True, check=True).stdout
    device = re.search(r'"dev":"([^"]+)"', output)
    gateway = re.search(r'"gateway":"([^"]+)"', output)
    if device is None:
        raise OSError(f"no route to {server}: {output.strip()}")
    return device.group(1), gateway.group(1) if gateway else None


def _socket(interface: str) -> socket.socket:
    """UDP port 68 on ``interface`` only, allowed to broadcast (beside any DHCP client)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sock.bind(("", CLIENT_PORT))
    return sock


def discover(server: str, interface: str, timeout: float, port: int = SERVER_PORT) -> Offer:
    """Broadcast DISCOVERs (again every 2 s) until ``server`` offers or ``timeout`` passes;
    offers from other servers on the link are ignored. Raises TimeoutError naming them."""
    xid, mac = new_client()
    packet, others = build_discover(xid, mac), set()
    deadline = time.monotonic() + timeout
    with _socket(interface) as sock:
        while time.monotonic() < deadline:
            sock.sendto(packet, ("255.255.255.255", port))
            resend = min(deadline, time.monotonic() + RETRANSMIT_SECONDS)
            while (left := resend - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    reply, sender = sock.recvfrom(4096)
                except TimeoutError:
                    break
                offer = parse_offer(reply, xid, mac)
                if offer is not None and server in (offer.server, sender[0]):
                    return offer
                if offer is not None:
                    others.add(offer.server)
    heard = f" (offers came from {', '.join(sorted(others))} only)" if others else ""
    raise TimeoutError(f"no DHCPOFFER from {server} on {interface} within {timeout:g} s{heard}")


def main(argv: list[str]) -> int:
    """The peer-host entry point: arguments SERVER [PORT [TIMEOUT]]."""
    try:
        server = argv[0]
        port = int(argv[1]) if len(argv) > 1 else SERVER_PORT
        timeout = float(argv[2]) if len(argv) > 2 else 5.0
        interface, gateway = route(server)
        if gateway is not None:
            raise OSError(f"{server} is not on this host's link (routed through {gateway})")
        offer = discover(server, interface, timeout, port)
    except (IndexError, ValueError, OSError, subprocess.CalledProcessError) as error:
        print("error", str(error) or type(error).__name__)
        return 1
    print("offer", offer.address, offer.server, interface)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
