"""Readiness checks for the local cluster's components: health endpoints, sockets and DNS."""

from __future__ import annotations

import os
import socket
import ssl
import struct
from pathlib import Path


def https_ok(url: str, ca: Path, cert: Path | None = None, key: Path | None = None,
             timeout: float = 2) -> bool:
    """Whether an HTTPS GET (with this client certificate, if given) answers 200 (any error is
    'not yet')."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def http_ok(url: str, timeout: float = 2) -> bool:
    """Whether a plain HTTP GET (a loopback health endpoint) answers 200."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def socket_accepts(path: Path) -> bool:
    """Whether a unix socket accepts connections."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            return True
        except OSError:
            return False


def dns_query(server: str, name: str, timeout: float = 1) -> tuple[int, int] | None:
    """Sends one A query over UDP; returns (rcode, answer count) or None when nothing answers."""
    query_id = int.from_bytes(os.urandom(2), "big")
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = header + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (server, 53))
            reply = sock.recv(4096)
        except OSError:
            return None
    if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != query_id:
        return None
    flags, _, answers = struct.unpack(">HHH", reply[2:8])
    return flags & 0x000F, answers
