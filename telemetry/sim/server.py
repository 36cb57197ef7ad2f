"""Sockets and the simulation clock: serve the simulated vehicle like SITL does.

``tcpin:HOST:PORT`` listens like SITL's TCP 5760 (several clients, each its own channel; the
vehicle boots when the first client connects, as SITL "Waiting for connection" does);
``udpout:HOST:PORT`` sends to a ground station (MAVProxy's ``--out``) and takes its replies
on the same socket; ``udpin:HOST:PORT`` waits for a ground station's datagrams and answers
the last sender. Port 0 picks a free port; :attr:`SimServer.addresses` has the real ones.

The vehicle's physics and its clock (``time_boot_ms``, SYSTEM_TIME) run ``speedup`` times
faster than wall time.
"""

from __future__ import annotations

import errno
import select
import signal
import socket
import threading
import time
from typing import Callable, Iterable, Mapping

from telemetry.errors import TelemetryError
from telemetry.sim.faults import DropRule
from telemetry.sim.protocol import Channel, SimProtocol
from telemetry.sim.vehicle import DEFAULT_PARAMS, SimConfig, SimVehicle

__all__ = ["SimServer", "parse_endpoint", "run_sim"]

_STEP_S = 0.05          # physics step, simulated seconds
_RECV = 65536


def parse_endpoint(url: str) -> tuple[str, str, int]:
    """``"tcpin:127.0.0.1:5760"`` -> ``("tcpin", "127.0.0.1", 5760)``.

    Raises
    ------
    TelemetryError
        Not ``tcpin:``, ``udpout:`` or ``udpin:`` with a host and a port.

    >>> parse_endpoint("udpout:127.0.0.1:14550")
    ('udpout', '127.0.0.1', 14550)
    """
    kind, _, rest = url.partition(":")
    host, _, port = rest.rpartition(":")
    if kind not in ("tcpin", "udpout", "udpin") or not host or not port.isdigit():
        raise TelemetryError(f"simulator endpoint {url!r}: give tcpin:HOST:PORT, udpout:HOST:PORT or udpin:HOST:PORT")
    return kind, host, int(port)


class SimServer:
    """The simulated vehicle behind its sockets.

    Parameters
    ----------
    home : (lat_deg, lon_deg, alt_amsl_m)
        Take-off point.
    speedup : float
        Simulated seconds per wall second.
    endpoints : list of str
        ``tcpin:``/``udpout:``/``udpin:`` addresses (at least one).
    system_id : int
        MAVLink system id of the vehicle.
    config : dict, optional
        Overrides of :class:`~telemetry.sim.vehicle.SimConfig` timeline fields.
    params : dict, optional
        ArduCopter parameters to set (names of :data:`~telemetry.sim.vehicle.DEFAULT_PARAMS`).
    drop : iterable of DropRule
        Messages every connection loses on purpose (:mod:`telemetry.sim.faults`).
    max_items : mapping, optional
        MAV_MISSION_TYPE -> capacity (see :class:`~telemetry.sim.protocol.SimProtocol`).
    """

    def __init__(self, home: tuple[float, float, float], *, speedup: float = 1.0, endpoints: list[str],
                 system_id: int = 1, config: dict | None = None, params: dict[str, float] | None = None,
                 drop: Iterable[DropRule] = (), max_items: Mapping[int, int] | None = None) -> None:
        if not endpoints:
            raise TelemetryError("the simulator needs an endpoint (--listen tcpin:... or --out udpout:...)")
        if speedup <= 0:
            raise TelemetryError(f"speedup must be > 0, got {speedup}")
        self.home = home
        self.speedup = float(speedup)
        self.system_id = system_id
        self._config = config or {}
        self._params = dict(params or {})
        self._drop_rules = tuple(drop)
        self._max_items = dict(max_items or {})
        unknown = set(self._params) - set(DEFAULT_PARAMS)
        if unknown:
            raise TelemetryError(f"unknown simulator parameter(s): {', '.join(sorted(unknown))}")
        self.protocol: SimProtocol | None = None
        self.addresses: list[str] = []
        self._listeners: list[socket.socket] = []
        self._tcp: dict[socket.socket, Channel] = {}
        self._udp: dict[socket.socket, tuple[Channel | None, tuple[str, int] | None]] = {}
        self._udpin: set[socket.socket] = set()
        for url in endpoints:
            self._open(*parse_endpoint(url))
        self._wall0: float | None = None

    def _open(self, kind: str, host: str, port: int) -> None:
        if kind == "tcpin":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(8)
            sock.setblocking(False)
            self._listeners.append(sock)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            if kind == "udpin":
                sock.bind((host, port))
                self._udp[sock] = (None, None)
                self._udpin.add(sock)
            else:
                self._udp[sock] = (None, (host, port))
        bound = sock.getsockname() if kind != "udpout" else (host, port)
        self.addresses.append(f"{kind}:{bound[0]}:{bound[1]}")

    def _boot(self) -> None:
        lat, lon, alt = self.home
        cfg = SimConfig(home_lat_deg=lat, home_lon_deg=lon, home_alt_amsl_m=alt, utc_at_boot_s=time.time(),
                        **self._config)
        vehicle = SimVehicle(cfg, {**DEFAULT_PARAMS, **self._params, "SYSID_THISMAV": self.system_id})
        self.protocol = SimProtocol(vehicle, system_id=self.system_id, drop=self._drop_rules,
                                    max_items=self._max_items)
        self._wall0 = time.monotonic()
        for sock, (_, dest) in list(self._udp.items()):
            if dest is not None:
                self._udp[sock] = (self._udp_channel(sock), dest)

    def _udp_channel(self, sock: socket.socket) -> Channel:
        def write(data: bytes) -> None:
            target = self._udp[sock][1]
            if target is None:
                return
            try:
                sock.sendto(data, target)
            except OSError:          # nobody listening yet (ECONNREFUSED) or buffer full: like a radio
                pass
        return self.protocol.add_channel(write)

    def serve(self, stop: threading.Event, *, ready: Callable[[list[str]], None] | None = None) -> None:
        """Run until ``stop`` is set; ``ready(addresses)`` is called once the sockets are open."""
        if ready is not None:
            ready(self.addresses)
        if self._udp and not self._listeners:
            self._boot()                     # a UDP peer is not "connected": start at once
        poll_s = max(0.0005, min(0.01, _STEP_S / self.speedup))
        try:
            while not stop.is_set():
                socks = [*self._listeners, *self._tcp, *self._udp]
                readable, _, _ = select.select(socks, [], [], poll_s)
                for sock in readable:
                    self._read(sock)
                if self.protocol is None:
                    continue
                self._advance()
        finally:
            for sock in [*self._listeners, *self._tcp, *self._udp]:
                sock.close()

    def _advance(self) -> None:
        vehicle, proto = self.protocol.vehicle, self.protocol
        target = (time.monotonic() - self._wall0) * self.speedup
        while vehicle.t_s < target - 1e-9:
            vehicle.step(min(_STEP_S, target - vehicle.t_s))
            proto.tick()

    def _read(self, sock: socket.socket) -> None:
        if sock in self._listeners:
            client, _ = sock.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(2.0)
            if self.protocol is None:
                self._boot()
            self._tcp[client] = self.protocol.add_channel(lambda data, c=client: self._tcp_write(c, data))
            return
        if sock in self._tcp:
            try:
                data = sock.recv(_RECV)
            except OSError:
                data = b""
            if not data:
                self._drop(sock)
                return
            self._tcp[sock].receive(data)
            return
        try:
            data, sender = sock.recvfrom(_RECV)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNREFUSED):
                raise
            return
        if self.protocol is None:
            self._boot()
        channel, dest = self._udp[sock]
        if sock in self._udpin:
            dest = sender                    # answer whoever spoke last
        self._udp[sock] = (channel, dest)
        if channel is None:
            channel = self._udp_channel(sock)
            self._udp[sock] = (channel, dest)
        channel.receive(data)

    def _tcp_write(self, client: socket.socket, data: bytes) -> None:
        try:
            client.sendall(data)
        except OSError:
            self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        channel = self._tcp.pop(client, None)
        if channel is not None:
            self.protocol.remove_channel(channel)
            client.close()


def run_sim(home: tuple[float, float, float], *, speedup: float = 1.0, listen: str | None = None,
            out: str | None = None, stop: threading.Event | None = None, system_id: int = 1,
            ready: Callable[[list[str]], None] | None = None, config: dict | None = None,
            params: dict[str, float] | None = None, drop: Iterable[DropRule] = (),
            max_items: Mapping[int, int] | None = None) -> None:
    """Run the simulated ArduCopter until ``stop`` is set (or SIGTERM/SIGINT when none is given).

    Parameters
    ----------
    home : (lat_deg, lon_deg, alt_amsl_m)
        Take-off point.
    speedup : float
        Simulated seconds per wall second (physics and the vehicle clock).
    listen : str, optional
        ``tcpin:HOST:PORT`` (like SITL's 5760) or ``udpin:HOST:PORT``.
    out : str, optional
        ``udpout:HOST:PORT`` of a ground station or daemon.
    stop : threading.Event, optional
        Set it to stop; without one the process's SIGTERM and SIGINT stop the simulator.
    system_id : int
        MAVLink system id.
    ready : callable, optional
        Called with the open addresses (``"tcpin:127.0.0.1:5760"``...).
    config : dict, optional
        :class:`~telemetry.sim.vehicle.SimConfig` overrides (``prearm_ok_s``...).
    params : dict, optional
        ArduCopter parameters (``{"WPNAV_SPEED": 500}``...).
    drop : iterable of DropRule
        Messages every connection loses on purpose (``parse_drop("out:MISSION_REQUEST:2")``).
    max_items : mapping, optional
        MAV_MISSION_TYPE -> the most items the vehicle stores of that type.

    Raises
    ------
    TelemetryError
        No or bad endpoint, unknown parameter.
    OSError
        A socket cannot be opened (port in use).
    """
    endpoints = [url for url in (listen, out) if url]
    server = SimServer(home, speedup=speedup, endpoints=endpoints, system_id=system_id, config=config,
                       params=params, drop=drop, max_items=max_items)
    own_signals = stop is None
    stop = stop or threading.Event()
    previous = {}
    if own_signals and threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve(stop, ready=ready)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
