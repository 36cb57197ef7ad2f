"""What the live daemon tests talk to: scripted vehicles on UDP and TCP sockets (generated data).

A scripted vehicle sends the frames a test chooses, MAVLink 1 or 2, signed or not, and can
read what the daemon sends back; a TCP vehicle listens like SITL and can drop the connection.
"""

from __future__ import annotations

import contextlib
import socket
import time

from pymavlink.dialects.v20 import ardupilotmega as mavlink

EPOCH_2015 = 1420070400


def sign_with(mav: mavlink.MAVLink, key: bytes) -> None:
    """Sign ``mav``'s frames with ``key`` (link 0, timestamp now, in 10 us units since 2015)."""
    mav.signing.secret_key = key
    mav.signing.sign_outgoing = True
    mav.signing.link_id = 0
    mav.signing.timestamp = int((time.time() - EPOCH_2015) * 1e5)


class ScriptedVehicle:
    """A vehicle's MAVLink side that the test scripts: builds frames, counts what it sent."""

    def __init__(self, sysid: int, *, v1: bool = False, key: bytes | None = None, compid: int = 1) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self.v1 = v1
        if key is not None:
            sign_with(self.mav, key)
        self.frames: list[bytes] = []

    def frame(self, msg) -> bytes:
        buf = bytes(msg.pack(self.mav, force_mavlink1=self.v1))
        self.mav.seq = (self.mav.seq + 1) % 256
        self.frames.append(buf)
        return buf

    def heartbeat(self, *, mode: int = 0, armed: bool = False, status: int = mavlink.MAV_STATE_STANDBY) -> bytes:
        base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (mavlink.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
        return self.frame(self.mav.heartbeat_encode(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                                    base, mode, status))

    def position(self, lat_deg: float, lon_deg: float, alt_rel_m: float = 0.0) -> bytes:
        return self.frame(self.mav.global_position_int_encode(
            0, int(round(lat_deg * 1e7)), int(round(lon_deg * 1e7)), int((5 + alt_rel_m) * 1000),
            int(alt_rel_m * 1000), 0, 0, 0, 9000))


class UdpVehicle(ScriptedVehicle):
    """A scripted vehicle sending datagrams to a daemon's ``udpin:127.0.0.1:PORT`` link."""

    def __init__(self, port: int, sysid: int, **options) -> None:
        super().__init__(sysid, **options)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.dest = ("127.0.0.1", port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    def received(self) -> list[bytes]:
        """Every datagram the daemon sent to this vehicle so far."""
        out = []
        while True:
            try:
                out.append(self.sock.recv(65536))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


def parse(datagrams: list[bytes], key: bytes | None = None) -> list:
    """Frames in ``datagrams`` (BAD_DATA included); with ``key`` only validly signed ones decode."""
    mav = mavlink.MAVLink(None)
    mav.robust_parsing = True
    if key is not None:
        mav.signing.secret_key = key
    out = []
    for data in datagrams:
        out += mav.parse_buffer(data) or []
    return out


class TcpVehicle(ScriptedVehicle):
    """A scripted vehicle listening on TCP like SITL's 5760 (one client at a time).

    The socket is bound at once; :meth:`listen` starts accepting, so a daemon started before
    finds the port refusing connections, as a vehicle not yet powered does.
    """

    def __init__(self, sysid: int, **options) -> None:
        super().__init__(sysid, **options)
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.client: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def listen(self) -> None:
        self.server.listen(1)

    def accept(self, timeout_s: float = 20.0) -> None:
        self.server.settimeout(timeout_s)
        self.client, _ = self.server.accept()
        self.mav.seq = 0                   # a new connection: ArduPilot's channel starts its sequence again

    def send(self, data: bytes) -> None:
        self.client.sendall(data)

    def hang_up(self) -> None:
        """Close the connection (the vehicle rebooted, the radio bridge restarted)."""
        with contextlib.suppress(OSError):
            self.client.shutdown(socket.SHUT_RDWR)
        self.client.close()
        self.client = None

    def close(self) -> None:
        if self.client is not None:
            self.hang_up()
        self.server.close()
