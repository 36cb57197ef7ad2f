"""Telemetry benchmark: tlog import throughput against pymavlink's bare parse loop, and a live
fleet of scripted vehicles into one ``patrol daemon`` on loopback.

**Import** (``import`` rows): for every bundled tlog (``flight_logs/samples/telemetry``, real
logs, see their ``PROVENANCE.md``), messages per second of a full
:func:`flight_logs.tlog.import_tlog` into a fresh SQLite database and data root (structure
check, SHA-256, raw copy into the content store, every message through the
:class:`~flight_logs.recorder.LinkRecorder`, flights, track, events and camera positions
written and committed), against pymavlink's bare ``mavutil.mavlink_connection(path)`` /
``recv_match()`` loop over the same file in the same run (parsing only, nothing kept).
Wall-clock time, median of 3; the ratio is ours / bare (target >= 0.5).

**Live** (``live`` row): N scripted vehicles (generated data: ``tests/telemetry/daemon_peers.py``,
MAVLink 2, distinct system ids 1..N, each on its own UDP source port) send to one
``udpin:127.0.0.1:PORT`` link of a ``patrol daemon`` subprocess (the daemon keys vehicles by link
and system id) for ``--duration-s``: GLOBAL_POSITION_INT at 10 Hz, ATTITUDE and GPS_RAW_INT at
4 Hz, SYS_STATUS and VFR_HUD at 2 Hz, HEARTBEAT (armed, so each vehicle has a flight) at 1 Hz.
Then the daemon is stopped with SIGTERM (its clean shutdown: last flush, tlog archived) and
the benchmark counts the vehicles' messages in the archived link tlog (per system id and type)
against those sent, and the flights, track points (one per second of flight by design) and
``vehicle_status`` rows in the database. CPU is the daemon's user+system time over the sending
window (``/proc/<pid>/stat``) as a share of one core, and over its whole life
(``getrusage(RUSAGE_CHILDREN)`` after it exits, start-up and migration included); memory is its
peak RSS (``VmHWM`` at the end of the sending window, and ``ru_maxrss`` over its whole life,
shutdown included).

Latency: each position's latitude carries its sequence number (``lat = base + k`` in 1e-7
degree units), its send time is noted; the benchmark polls what the console's live feed reads
(:class:`telemetry.live.StatusReader` on the same database, every 50 ms) and takes, for each
position it sees first, the time from its send to the poll that saw it. Positions overwritten
before a status write (the daemon rewrites ``vehicle_status`` every 0.25 s; 10 Hz positions)
are never seen and not counted. The console's SSE feed (:mod:`web.fleet_stream`) polls every
0.5 s, which adds up to 0.5 s on top of these figures.

Run: ``make bench`` or ``.venv/bin/python benchmarks/telemetry.py [--vehicles 50]
[--duration-s 60] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "telemetry"))

import sqlalchemy as sa  # noqa: E402
from pymavlink import mavutil  # noqa: E402

from daemon_peers import UdpVehicle  # noqa: E402
from flight_logs.models import Flight, LogFile, TrackPoint  # noqa: E402
from flight_logs.tlog import import_tlog  # noqa: E402
from patrol.db import make_engine, make_session_factory, upgrade  # noqa: E402
from telemetry.live import StatusReader  # noqa: E402
from telemetry.models import VehicleStatus  # noqa: E402

SAMPLES = ROOT / "flight_logs" / "samples" / "telemetry"
PATROL = ROOT / ".venv" / "bin" / "patrol"
BASE_LAT_E7, BASE_LON_E7 = 307005000, 1210185000      # Pinghu, as the bundled SITL survey
# message type -> rate (Hz); positions carry the latency probe
RATES_HZ = {"GLOBAL_POSITION_INT": 10, "ATTITUDE": 4, "GPS_RAW_INT": 4, "SYS_STATUS": 2, "VFR_HUD": 2,
            "HEARTBEAT": 1}
POLL_S = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- import
def _open_db(data_dir: Path):
    url = f"sqlite:///{data_dir / 'patrol.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    return engine, make_session_factory(engine)


def _import_once(path: Path) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        engine, session_factory = _open_db(Path(tmp))
        try:
            t0 = time.perf_counter()
            with session_factory.begin() as session:
                result = import_tlog(session, Path(tmp), path)
            return time.perf_counter() - t0, result.messages
        finally:
            engine.dispose()


def _bare_once(path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    conn = mavutil.mavlink_connection(str(path))
    n = 0
    while (msg := conn.recv_match()) is not None:
        if msg.get_type() != "BAD_DATA":
            n += 1
    conn.close()
    return time.perf_counter() - t0, n


def bench_import(path: Path, repeat: int = 3) -> dict:
    """Median wall time of a full import and of the bare pymavlink loop over ``path``."""
    ours = [_import_once(path) for _ in range(repeat)]
    bare = [_bare_once(path) for _ in range(repeat)]
    t_ours, t_bare = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in bare)
    n_ours, n_bare = ours[0][1], bare[0][1]
    return {"kind": "import", "tlog": path.relative_to(SAMPLES).as_posix(), "messages": n_ours,
            "bare_messages": n_bare, "import_s": round(t_ours, 3), "bare_s": round(t_bare, 3),
            "import_msg_s": round(n_ours / t_ours), "bare_msg_s": round(n_bare / t_bare),
            "ratio": round((n_ours / t_ours) / (n_bare / t_bare), 3)}


# ---------------------------------------------------------------------------- live
def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _frame(v: UdpVehicle, kind: str, k: int, t_boot_ms: int) -> bytes:
    mav = v.mav
    if kind == "GLOBAL_POSITION_INT":
        return v.frame(mav.global_position_int_encode(t_boot_ms, BASE_LAT_E7 + k, BASE_LON_E7 + 1000 * v.sysid,
                                                      45000, 40000, 100, 0, 0, 9000))
    if kind == "HEARTBEAT":
        return v.heartbeat(mode=3, armed=True, status=4)        # AUTO, armed, MAV_STATE_ACTIVE
    if kind == "ATTITUDE":
        return v.frame(mav.attitude_encode(t_boot_ms, 0.01, -0.02, 1.57, 0.0, 0.0, 0.0))
    if kind == "GPS_RAW_INT":
        return v.frame(mav.gps_raw_int_encode(t_boot_ms * 1000, 3, BASE_LAT_E7 + k, BASE_LON_E7 + 1000 * v.sysid,
                                              45000, 80, 120, 100, 9000, 14))
    if kind == "SYS_STATUS":
        return v.frame(mav.sys_status_encode(0, 0, 0, 250, 15800, 1200, 80, 0, 0, 0, 0, 0, 0))
    if kind == "VFR_HUD":
        return v.frame(mav.vfr_hud_encode(10.0, 10.0, 90, 40, 45.0, 0.0))
    raise ValueError(kind)


class Fleet(threading.Thread):
    """Sends every vehicle's messages on schedule; notes each position's send time."""

    def __init__(self, port: int, n: int, duration_s: float) -> None:
        super().__init__(name="bench-fleet", daemon=True)
        self.vehicles = [UdpVehicle(port, sysid) for sysid in range(1, n + 1)]
        for v in self.vehicles:
            v.sysid = v.mav.srcSystem
        self.duration_s = duration_s
        self.sent: Counter = Counter()                 # (sysid, type) -> frames
        self.sent_at: dict[tuple[int, int], float] = {}  # (sysid, k) -> wall time of sending
        self.late_s = 0.0                              # worst lag of the schedule

    def run(self) -> None:
        n = len(self.vehicles)
        t0 = time.monotonic()
        # one event per (vehicle, type, period), vehicles spread across the period
        events = []
        for i, v in enumerate(self.vehicles):
            for kind, hz in RATES_HZ.items():
                period = 1.0 / hz
                events.append([t0 + period * i / n, period, v, kind])
        k_of = {v.sysid: 0 for v in self.vehicles}
        end = t0 + self.duration_s
        while True:
            now = time.monotonic()
            if now >= end:
                break
            next_due = end
            for ev in events:
                due, period, v, kind = ev
                if due <= now and due < end:
                    self.late_s = max(self.late_s, now - due)
                    t_boot_ms = int((now - t0) * 1000)
                    k = k_of[v.sysid]
                    data = _frame(v, kind, k, t_boot_ms)
                    if kind == "GLOBAL_POSITION_INT":
                        self.sent_at[(v.sysid, k)] = time.time()
                        k_of[v.sysid] = k + 1
                    v.send(data)
                    v.frames.clear()
                    self.sent[(v.sysid, kind)] += 1
                    ev[0] = due + period
                next_due = min(next_due, ev[0])
            time.sleep(max(0.0, min(next_due, end) - time.monotonic()))

    def close(self) -> None:
        for v in self.vehicles:
            v.close()


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime, stime


def _proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _poll_latency(session_factory, fleet: Fleet, stop: threading.Event, out: list[float]) -> None:
    reader = StatusReader()
    seen: dict[int, int] = {}
    while not stop.is_set():
        t_poll = time.time()
        with session_factory() as session:
            changes = reader.poll(session)
        for status in changes.updated:
            sysid, lat = status.get("system_id"), status.get("lat_deg")
            if sysid is None or lat is None:
                continue
            k = round(lat * 1e7) - BASE_LAT_E7
            if k > seen.get(sysid, -1):
                seen[sysid] = k
                sent = fleet.sent_at.get((sysid, k))
                if sent is not None:
                    out.append(t_poll - sent)
        stop.wait(max(0.0, POLL_S - (time.time() - t_poll)))


def _tlog_counts(path: Path, sysids: set[int]) -> Counter:
    counts: Counter = Counter()
    log = mavutil.mavlink_connection(str(path))
    while (msg := log.recv_match()) is not None:
        if msg.get_type() != "BAD_DATA" and msg.get_srcSystem() in sysids:
            counts[(msg.get_srcSystem(), msg.get_type())] += 1
    log.close()
    return counts


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_live(n: int, duration_s: float) -> dict:
    """Run the fleet into a ``patrol daemon`` subprocess; counts, CPU, memory, latency."""
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        data_dir = Path(tmp)
        engine, session_factory = _open_db(data_dir)
        port = _free_udp_port()
        env = dict(os.environ, PATROL_DATA_DIR=str(data_dir), PATROL_SECRET_KEY="bench")
        proc = subprocess.Popen([str(PATROL), "daemon", "--link", f"udpin:127.0.0.1:{port}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        fleet = Fleet(port, n, duration_s)
        latencies: list[float] = []
        stop_poll = threading.Event()
        try:
            deadline = time.monotonic() + 30
            while not list(data_dir.glob("live/*.tlog")):           # link open, tlog registered
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"patrol daemon did not start: {proc.stderr.read()}")
                time.sleep(0.1)
            time.sleep(0.5)
            poller = threading.Thread(target=_poll_latency, args=(session_factory, fleet, stop_poll, latencies),
                                      daemon=True)
            cpu0, w0 = _proc_cpu_s(proc.pid), time.monotonic()
            fleet.start()
            poller.start()
            fleet.join(duration_s + 30)
            time.sleep(1.5)                                        # last status write and flush
            cpu1, w1 = _proc_cpu_s(proc.pid), time.monotonic()
            hwm_mb = _proc_hwm_mb(proc.pid)
            stop_poll.set()
            poller.join(10)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            fleet.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"patrol daemon exited with {proc.returncode}: {err[-2000:]}")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        link = json.loads(out.strip().splitlines()[-1])
        sysids = set(range(1, n + 1))
        with session_factory() as session:
            stored = session.scalar(sa.select(LogFile.stored_path).where(LogFile.kind == "live-tlog"))
            flights = session.scalar(sa.select(sa.func.count()).select_from(Flight))
            points = session.scalar(sa.select(sa.func.count()).select_from(TrackPoint))
            status_rows = session.scalar(sa.select(sa.func.count()).select_from(VehicleStatus))
        engine.dispose()
        in_tlog = _tlog_counts(data_dir / stored, sysids)
        sent, got = sum(fleet.sent.values()), sum(in_tlog.values())
        lost = {f"{s}/{t}": c - in_tlog[(s, t)] for (s, t), c in fleet.sent.items() if in_tlog[(s, t)] != c}
        positions = sum(c for (_, t), c in fleet.sent.items() if t == "GLOBAL_POSITION_INT")
        return {"kind": "live", "vehicles": n, "duration_s": duration_s,
                "sent": sent, "sent_msg_s": round(sent / duration_s), "in_tlog": got, "lost": sent - got,
                "lost_by_vehicle_type": dict(list(lost.items())[:10]),
                "link_messages": link.get("messages"), "link_bad_bytes": link.get("bad_bytes"),
                "flights": flights, "track_points": points, "positions_sent": positions,
                "status_rows": status_rows,
                "cpu_pct_one_core": round(100 * (cpu1 - cpu0) / (w1 - w0), 1),
                "cpu_s_total": round(usage.ru_utime + usage.ru_stime, 1),
                "peak_rss_mb": round(hwm_mb, 1), "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
                "latency_samples": len(latencies),
                "latency_p50_s": round(_pct(latencies, 0.5), 3) if latencies else None,
                "latency_p99_s": round(_pct(latencies, 0.99), 3) if latencies else None,
                "latency_max_s": round(max(latencies), 3) if latencies else None,
                "sender_worst_lag_s": round(fleet.late_s, 3)}


# ---------------------------------------------------------------------------- output
def table(rows: list[dict]) -> str:
    """The rows as Markdown tables (import, then live)."""
    imp = [r for r in rows if r["kind"] == "import"]
    live = [r for r in rows if r["kind"] == "live"]
    lines = []
    if imp:
        lines += ["| tlog | messages | full import s | import msg/s | bare recv_match s | bare msg/s | ratio |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['tlog']} | {r['messages']} | {r['import_s']:.3f} | {r['import_msg_s']} | "
                  f"{r['bare_s']:.3f} | {r['bare_msg_s']} | {r['ratio']:.2f} |" for r in imp]
    if live:
        if lines:
            lines.append("")
        lines += ["| vehicles | s | sent (msg/s) | in link tlog | lost | flights | track points "
                  "| status rows | daemon CPU % of a core | daemon CPU s total | peak RSS MB sending (whole life) "
                  "| latency p50 s | p99 s | max s (samples) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['vehicles']} | {r['duration_s']:g} | {r['sent']} ({r['sent_msg_s']}) | {r['in_tlog']} | "
                  f"{r['lost']} | {r['flights']} | {r['track_points']} | {r['status_rows']} | "
                  f"{r['cpu_pct_one_core']} | {r['cpu_s_total']} | {r['peak_rss_mb']} ({r['ru_maxrss_mb']}) | "
                  f"{r['latency_p50_s']} | {r['latency_p99_s']} | {r['latency_max_s']} ({r['latency_samples']}) |"
                  for r in live]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50, help="scripted vehicles in the live part")
    parser.add_argument("--duration-s", type=float, default=60.0, help="seconds of sending (20 for a quick run)")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    if not 1 <= args.vehicles <= 250:
        parser.error("--vehicles must be 1..250 (MAVLink system ids; 255 is the daemon's)")
    rows = []
    jobs = [] if args.skip_import else [lambda p=p: bench_import(p) for p in sorted(SAMPLES.glob("*/*.tlog"))]
    if not args.skip_live:
        jobs.append(lambda: bench_live(args.vehicles, args.duration_s))
    for job in jobs:
        row = job()
        rows.append(row)
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
    if not args.json:
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
