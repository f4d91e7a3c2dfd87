"""The WAN link emulator alone: what a bare client gets through tests/link.py.

    python bench/link_check.py [--rtt 0.04] [--rate 12.5e6] [--seconds 10] [--big-gb 2]

A raw TCP peer (echo or sink, chosen by the first byte) runs in a child process on
127.0.0.1; the link (rtt 40 ms, 100 Mbit/s = 12.5e6 bytes/s each way by default) relays
to it from this process, and bare blocking-socket clients go through the link. Printed:
ping (1-byte request/response), the throughput of 1, 4 and 16 parallel streams as a
fraction of the rate (with the ping under that load), the relay thread's CPU seconds per
GB and CPU % of one core, peak RSS, and a `--big-gb` upload at unlimited rate, which must
pass with flat memory. This is the "limit" the WAN benchmark reports ossync against.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.link import Link

IO_TIMEOUT = 60.0
BLOCK = os.urandom(64 * 1024)


# --- the peer (child process) ----------------------------------------------------------------

async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """b"E": echo until EOF. b"S": read to EOF, answer the byte count."""
    mode = await reader.read(1)
    if mode == b"E":
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    elif mode == b"S":
        count = 0
        while data := await reader.read(262144):
            count += len(data)
        writer.write(str(count).encode())
        await writer.drain()
    writer.close()


async def _peer() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)  # parent gone
    server.close()


class Peer:
    """The peer in a child process, so that it takes no CPU or GIL from the relay."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--peer"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.address = ("127.0.0.1", int(self.proc.stdout.readline()))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# --- the clients (this process) --------------------------------------------------------------

def ping(link: Link, count: int, stop: threading.Event | None = None) -> dict[str, float]:
    """Ms of a 1-byte request/response: the first one on a new connection, then the median."""
    times = []
    with socket.create_connection(link.address, timeout=IO_TIMEOUT) as sock:
        began = time.perf_counter()
        sock.sendall(b"E")
        for i in range(count):
            if stop is not None and stop.is_set():
                break
            if i:
                began = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise RuntimeError("echo failed")
            times.append((time.perf_counter() - began) * 1000)
            if stop is not None:
                stop.wait(0.1)
    return {"first_ms": times[0], "p50_ms": statistics.median(times[1:] or times)}


def stream(address: tuple[str, int], until: float) -> tuple[int, float]:
    """Send until `until`, half-close, wait for the sink's count: (bytes, when acknowledged)."""
    sent = 0
    with socket.create_connection(address, timeout=IO_TIMEOUT) as sock:
        sock.sendall(b"S")
        while time.monotonic() < until:
            sock.sendall(BLOCK)
            sent += len(BLOCK)
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(100)
    if int(answer) != sent:
        raise RuntimeError(f"sink got {answer!r} of {sent} bytes")
    return sent, time.monotonic()


def throughput(link: Link, streams: int, seconds: float, rate: float) -> dict[str, float]:
    stop = threading.Event()
    with ThreadPoolExecutor(streams + 1) as pool:
        pinger = pool.submit(ping, link, 1000, stop)
        began = time.monotonic()
        done = list(pool.map(lambda _: stream(link.address, began + seconds), range(streams)))
        stop.set()
        pings = pinger.result(IO_TIMEOUT)
    total = sum(sent for sent, _ in done)
    elapsed = max(at for _, at in done) - began
    return {"mb_s": total / elapsed / 1e6, "fraction": total / elapsed / rate,
            "ping_ms": pings["p50_ms"], "seconds": elapsed}


def big_upload(link: Link, size: int) -> dict[str, float]:
    rss_before = _status("VmRSS")
    peak = rss_before
    cpu = link.cpu_seconds()
    with socket.create_connection(link.address, timeout=IO_TIMEOUT) as sock:
        began = time.monotonic()
        sock.sendall(b"S")
        for i in range(size // len(BLOCK)):
            sock.sendall(BLOCK)
            if i % 256 == 0:
                peak = max(peak, _status("VmRSS"))
        sock.shutdown(socket.SHUT_WR)
        got = int(sock.recv(100))
        elapsed = time.monotonic() - began
    if got != size // len(BLOCK) * len(BLOCK):
        raise RuntimeError(f"sink got {got} bytes")
    return {"gb": got / 1e9, "mb_s": got / elapsed / 1e6, "rss_before_mb": rss_before / 1e6,
            "rss_peak_mb": peak / 1e6, "cpu_s_per_gb": (link.cpu_seconds() - cpu) / (got / 1e9)}


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    peer = Peer()
    try:
        rss_start = _status("VmRSS")
        with Link(peer.address, rtt=args.rtt, rate_up=args.rate, rate_down=args.rate) as link:
            idle = ping(link, 20)
            cpu, wall = link.cpu_seconds(), time.monotonic()
            rows = {n: throughput(link, n, args.seconds, args.rate) for n in (1, 4, 16)}
            cpu, wall = link.cpu_seconds() - cpu, time.monotonic() - wall
            relayed = link.bytes_up + link.bytes_down
        peak_link = _status("VmHWM")
        big = None
        if args.big_gb > 0:
            with Link(peer.address, rtt=args.rtt, rate_up=None, rate_down=None) as link:
                big = big_upload(link, int(args.big_gb * 1e9))
    finally:
        peer.stop()
    return {"ping": idle, "rows": rows, "cpu_s_per_gb": cpu / (relayed / 1e9),
            "cpu_percent": 100 * cpu / wall, "rss_start_mb": rss_start / 1e6,
            "peak_rss_mb": peak_link / 1e6, "big": big}


def report(args: argparse.Namespace, res: dict[str, Any]) -> None:
    print(f"link alone: rtt {args.rtt * 1000:.0f} ms, {args.rate * 8 / 1e6:.0f} Mbit/s "
          f"({args.rate / 1e6:.1f} MB/s) each way, {os.cpu_count()} cores")
    print(f"  ping (1-byte request/response)   p50 {res['ping']['p50_ms']:7.1f} ms   "
          f"first on a new connection {res['ping']['first_ms']:.1f} ms")
    print(f"  {'streams':>8} {'MB/s':>8} {'of rate':>8} {'ping p50 ms':>12} {'seconds':>8}")
    for n, row in res["rows"].items():
        print(f"  {n:>8} {row['mb_s']:8.2f} {row['fraction']:8.3f} {row['ping_ms']:12.1f} "
              f"{row['seconds']:8.1f}")
    print(f"  relay CPU: {res['cpu_s_per_gb']:.2f} s per GB relayed, {res['cpu_percent']:.1f} % "
          "of one core at the rate")
    print(f"  RSS: {res['rss_start_mb']:.1f} MB before the link, peak {res['peak_rss_mb']:.1f} MB "
          "(process, clients included)")
    big = res["big"]
    if big:
        print(f"  {big['gb']:.1f} GB upload at unlimited rate: {big['mb_s']:.0f} MB/s, "
              f"RSS {big['rss_before_mb']:.1f} -> peak {big['rss_peak_mb']:.1f} MB, "
              f"relay CPU {big['cpu_s_per_gb']:.2f} s per GB")


def main() -> int:
    if sys.argv[1:] == ["--peer"]:
        asyncio.run(_peer())
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.04, help="round trip, seconds")
    parser.add_argument("--rate", type=float, default=12.5e6, help="bytes/s each way")
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per run")
    parser.add_argument("--big-gb", type=float, default=2.0, help="0 skips the big upload")
    args = parser.parse_args()
    report(args, run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
