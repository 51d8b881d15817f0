"""Network guard: any Python process started with this folder on PYTHONPATH cannot leave loopback.

Python imports ``sitecustomize`` at start-up, so every notebook kernel that the tests start (they
inherit PYTHONPATH from ``notebooks/conftest.py``) loads this file. Connections and name lookups
for anything but loopback raise :class:`NetworkBlocked` (an ``OSError``, so libraries react as they
would offline), and each attempt is appended to ``$AIGC_NETWORK_GUARD_LOG`` so that the test fails
even when a library catches the error. Loopback stays open: Jupyter kernels talk to the test over
127.0.0.1. Only Python's ``socket`` module is guarded, not sockets opened by C extensions.
"""

import ipaddress
import os
import socket

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(OSError):
    """A connection outside loopback was attempted while the network guard is on."""


def is_loopback(host) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (``host`` as str, bytes or None)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%")[0].lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost


def block(what: str):
    """Record the attempt in the guard's log and raise :class:`NetworkBlocked`."""
    log = os.environ.get("AIGC_NETWORK_GUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(f"pid {os.getpid()}: {what}\n")
    raise NetworkBlocked(f"network guard: {what} is outside loopback; the fast profile must "
                         f"run offline")


def check_address(sock, address):
    """Block ``address`` unless it is loopback or a Unix socket path."""
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not is_loopback(host):
        block(f"connect to {address!r}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_sendto, _getaddrinfo = socket.socket.sendto, socket.getaddrinfo


def guarded_connect(self, address):
    check_address(self, address)
    return _connect(self, address)


def guarded_connect_ex(self, address):
    check_address(self, address)
    return _connect_ex(self, address)


def guarded_sendto(self, data, *args):
    check_address(self, args[-1])  # sendto(data, address) or sendto(data, flags, address)
    return _sendto(self, data, *args)


def guarded_getaddrinfo(host, *args, **kwargs):
    if not is_loopback(host):
        block(f"name lookup of {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = guarded_connect
socket.socket.connect_ex = guarded_connect_ex
socket.socket.sendto = guarded_sendto
socket.getaddrinfo = guarded_getaddrinfo
os.environ["AIGC_NETWORK_GUARD_ACTIVE"] = "1"  # lets a process (and the tests) see it is guarded
