"""A userspace WAN link for tests and benchmarks: a TCP relay on 127.0.0.1 between a client
and an `upstream` server that behaves like one uplink and one downlink.

This machine's kernel has no ``sch_netem``, so the link lives in userspace. Each direction
("up" is client → upstream, "down" is upstream → client) is one FIFO serializer of rate R
shared by every connection: a chunk of n bytes read at time t leaves the bottleneck at
``d = max(t, free_at) + n/R`` and reaches the other side at ``d + rtt/2`` (per connection,
never before an earlier chunk). The rate of the chunk being serialized is applied at its
start, so `Link.set_rate` acts at once, even on a chunk half sent.

Backpressure, not buffering: a connection's source is not read while the bytes waiting in
its direction's bottleneck exceed `queue_bytes`, nor while that connection holds more than
its window in the link (queue + rate × rtt/2, enough for the full rate), nor while its
destination socket does not drain. The relay's own sockets keep small receive buffers, so
the sender's socket fills and the sender slows down, as behind a real bottleneck. Memory is
flat whatever the transfer size: about queue + window per direction plus 64 KiB per socket.

A new connection costs one rtt before its first byte moves (TCP's handshake; `handshake`).
Loss is modelled as stalls: with `stall_probability` per chunk, that connection's direction
sends nothing for `stall` seconds (a retransmission timeout); the bottleneck serves the
other connections meanwhile. Draws come from a seeded RNG per connection and direction.

Known limit: the client's own TCP talks to a loopback peer, so TCP slow start, congestion
control and loss recovery of a real WAN are not reproduced, and neither are packet loss or
reordering. What is reproduced is the request/response latency (and the handshake rtt of a
new connection), the shared bottleneck rate and its queue.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import os
import random
import socket
import threading
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import cast

CHUNK_MAX = 64 * 1024  # most bytes read at a time
CHUNK_MIN = 4 * 1024
CHUNK_TIME = 0.004  # a read holds the bottleneck about this long, so pacing stays smooth
UNLIMITED_WINDOW = 4 * 1024 * 1024  # what one direction of a connection holds at rate None
SOCKET_BUFFER = 128 * 1024  # SO_RCVBUF of the relay's sockets (the kernel doubles it)
Address = tuple[str, int]


class _Mark(enum.Enum):
    EOF = "eof"  # the source shut down writing: write_eof() on the destination
    CLOSE = "close"  # the source is gone (closed, reset): close the destination


Item = bytes | _Mark


def _size(item: Item) -> int:
    return len(item) if isinstance(item, bytes) else 0


class _Bottleneck:
    """One direction's FIFO serializer, shared by every connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: float | None,
                 queue_bytes: int | None, rtt: float) -> None:
        self._loop = loop
        self.rate = rate
        self._queue_bytes = queue_bytes
        self._rtt = rtt
        self.queued = 0  # bytes read and not yet departed, the one being serialized included
        self._queue: deque[tuple[_Flow, Item, float]] = deque()
        self._head_done: float | None = None  # when the head of the queue departs
        self._timer: asyncio.TimerHandle | None = None
        self.waiters: deque[_Flow] = deque()  # flows paused until the queue has room

    @property
    def limit(self) -> int:
        if self._queue_bytes is not None:
            return self._queue_bytes
        return UNLIMITED_WINDOW if self.rate is None else max(CHUNK_MAX, int(self.rate * self._rtt))

    def chunk(self) -> int:
        if self.rate is None:
            return CHUNK_MAX
        return max(CHUNK_MIN, min(CHUNK_MAX, int(self.rate * CHUNK_TIME)))

    def window(self) -> int:
        """Most bytes one direction of one connection may hold in the link."""
        if self.rate is None:
            return UNLIMITED_WINDOW
        return self.limit + int(self.rate * self._rtt / 2) + 2 * CHUNK_MAX

    def push(self, flow: _Flow, item: Item) -> None:
        now = self._loop.time()
        self._queue.append((flow, item, now))
        self.queued += _size(item)
        if self._timer is None:
            self._serve(now)

    def set_rate(self, rate: float | None) -> None:
        old, self.rate = self.rate, rate
        if self._timer is not None and self._head_done is not None:
            self._timer.cancel()
            now = self._loop.time()
            left = max(self._head_done - now, 0.0) * (old or 0.0)  # head bytes not yet sent
            self._head_done = now + (left / rate if rate else 0.0)
            self._serve(now)
        self._wake()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._queue.clear()

    def _serve(self, free_at: float) -> None:
        """Depart every chunk due by now, then set a timer for the next one."""
        now = self._loop.time()
        while self._queue:
            flow, item, arrived = self._queue[0]
            if self._head_done is None:
                service = _size(item) / self.rate if self.rate else 0.0
                self._head_done = max(free_at, arrived) + service
            if self._head_done > now:
                self._timer = self._loop.call_at(self._head_done, self._on_timer)
                return
            free_at, self._head_done = self._head_done, None
            self._queue.popleft()
            self.queued -= _size(item)
            flow.departed(item, free_at)
        self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self._serve(self._loop.time())
        self._wake()

    def _wake(self) -> None:
        """Resume waiting flows, first come first served, about one chunk per free chunk."""
        room = self.limit - self.queued
        while self.waiters and (room > 0 or self.queued == 0):
            flow = self.waiters.popleft()
            flow.waiting = False
            flow.update_reading()
            room -= self.chunk()


class _Flow:
    """One direction of one connection: source socket → bottleneck → delay → destination."""

    def __init__(self, link: Link, pair: _Pair, up: bool) -> None:
        self._link = link
        self._pair = pair
        self.up = up
        self._loop = link._loop
        self._bottleneck = link._up if up else link._down
        self._rng = random.Random(f"{link.seed}/{pair.number}/{'up' if up else 'down'}")
        self.src: asyncio.Transport | None = None
        self.dst: asyncio.Transport | None = None
        self.started = False  # after the handshake
        self.reading = False  # the source transport starts paused
        self.src_done = False  # EOF or gone: its reading is never touched again
        self.stalled = False
        self.waiting = False  # for room in the bottleneck
        self.dst_paused = False  # the destination's write buffer is full
        self.dead = False  # the destination is gone
        self.eof_delivered = False
        self.inflight = 0  # bytes read and not yet written to the destination
        self._held: list[Item] = []  # read during a stall
        self._deliveries: deque[tuple[float, Item]] = deque()
        self._last_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None

    def chunk(self) -> int:
        return self._bottleneck.chunk()

    def received(self, item: Item) -> None:
        self.inflight += _size(item)
        p = self._link.stall_probability
        if self.stalled:
            self._held.append(item)
        elif isinstance(item, bytes) and p > 0 and self._rng.random() < p:
            self.stalled = True
            self._held.append(item)
            self._stall_timer = self._loop.call_later(self._link.stall, self._unstall)
        else:
            self._bottleneck.push(self, item)
        self._check_queue()
        self.update_reading()

    def departed(self, item: Item, departed_at: float) -> None:
        if self.dead:
            self.inflight -= _size(item)
            return
        at = max(departed_at + self._link.rtt / 2, self._last_at)
        self._last_at = at
        self._deliveries.append((at, item))
        if self._timer is None:
            self._timer = self._loop.call_at(at, self._deliver)

    def update_reading(self) -> None:
        src = self.src
        if src is None or self.src_done or src.is_closing():
            return
        want = self.started and not (self.stalled or self.waiting or self.dst_paused
                                     or self.inflight > self._bottleneck.window())
        if want != self.reading:
            self.reading = want
            if want:
                src.resume_reading()
            else:
                src.pause_reading()

    def kill(self) -> None:
        """The destination is gone: drop what is in the delay line, stop the timers."""
        self.dead = True
        for timer in (self._timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._deliveries.clear()
        self._held.clear()

    def _check_queue(self) -> None:
        if not self.waiting and self._bottleneck.queued > self._bottleneck.limit:
            self.waiting = True
            self._bottleneck.waiters.append(self)

    def _unstall(self) -> None:
        self._stall_timer = None
        self.stalled = False
        held, self._held = self._held, []
        for item in held:
            self._bottleneck.push(self, item)
        self._check_queue()
        self.update_reading()

    def _deliver(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._deliveries and self._deliveries[0][0] <= now:
            self._hand_over(self._deliveries.popleft()[1])
        if self._deliveries:
            self._timer = self._loop.call_at(self._deliveries[0][0], self._deliver)
        self.update_reading()

    def _hand_over(self, item: Item) -> None:
        self.inflight -= _size(item)
        dst = self.dst
        if self.dead or dst is None or dst.is_closing():
            return
        if isinstance(item, bytes):
            dst.write(item)
            self._link._delivered(self.up, len(item))
        elif item is _Mark.EOF:
            try:
                dst.write_eof()
            except OSError:  # the far side is gone already (a killed process): close
                dst.close()
                return
            self.eof_delivered = True
            self._pair.half_closed()
        else:
            dst.close()


class _End(asyncio.BufferedProtocol):
    """One socket of a relayed connection: what it reads feeds `out`, `into` writes to it."""

    def __init__(self, pair: _Pair, out: _Flow, into: _Flow) -> None:
        self._pair = pair
        self.out = out
        self.into = into
        self._view = memoryview(bytearray(CHUNK_MAX))
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.pause_reading()  # until the handshake is over
        self.out.src = self.transport
        self.into.dst = self.transport
        self._pair.made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view[: self.out.chunk()]

    def buffer_updated(self, nbytes: int) -> None:
        self.out.received(bytes(self._view[:nbytes]))

    def eof_received(self) -> bool:
        self.out.src_done = True
        self.out.received(_Mark.EOF)
        return True  # keep the socket open for the other direction

    def pause_writing(self) -> None:
        self.into.dst_paused = True
        self.into.update_reading()

    def resume_writing(self) -> None:
        self.into.dst_paused = False
        self.into.update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._pair.lost(self)


class _Pair:
    """One accepted connection and its connection to upstream."""

    def __init__(self, link: Link, number: int) -> None:
        self._link = link
        self.number = number
        self.up = _Flow(link, self, up=True)
        self.down = _Flow(link, self, up=False)
        self.client = _End(self, out=self.up, into=self.down)
        self.upstream = _End(self, out=self.down, into=self.up)
        self._open: set[_End] = set()
        self.task: asyncio.Task[None] | None = None
        self._begin_timer: asyncio.TimerHandle | None = None

    def made(self, end: _End) -> None:
        self._open.add(end)
        if end is self.client:
            self.task = self._link._loop.create_task(self._connect())

    def half_closed(self) -> None:
        if self.up.eof_delivered and self.down.eof_delivered:
            self.close()

    def lost(self, end: _End) -> None:
        self._open.discard(end)
        end.into.kill()
        other = end.out.dst
        if not end.out.src_done and other is not None and not other.is_closing():
            end.out.src_done = True
            end.out.received(_Mark.CLOSE)  # reaches the other side after what came before
        self._check_done()

    def close(self, abort: bool = False) -> None:
        if self.task is not None:
            self.task.cancel()
        if self._begin_timer is not None:
            self._begin_timer.cancel()
        for end in (self.client, self.upstream):
            if end.transport is None:
                continue
            if abort:
                end.transport.abort()
            else:
                end.transport.close()

    async def _connect(self) -> None:
        loop = self._link._loop
        accepted = loop.time()
        sock = _socket()
        try:
            await loop.sock_connect(sock, self._link.upstream)
            await loop.create_connection(lambda: self.upstream, sock=sock)
        except (OSError, asyncio.CancelledError) as exc:
            sock.close()
            self.task = None
            if isinstance(exc, asyncio.CancelledError):
                self._check_done()
                raise
            self.close()  # the client sees a clean close, as when a real server is down
            return
        self.task = None
        wait = self._link.rtt if self._link.handshake else 0.0
        self._begin_timer = loop.call_at(accepted + wait, self._begin)

    def _begin(self) -> None:
        self._begin_timer = None
        if self.client not in self._open:
            self.close()
            return
        for flow in (self.up, self.down):
            flow.started = True
            flow.update_reading()

    def _check_done(self) -> None:
        if not self._open and self.task is None:
            self._link._pairs.discard(self)


def _socket() -> socket.socket:
    # IPPROTO_TCP explicitly, so that asyncio sets TCP_NODELAY on it (and on accepted ones).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    sock.setblocking(False)
    return sock


class Link:
    """A TCP relay on 127.0.0.1 that behaves like one WAN uplink/downlink between a client
    and `upstream`. Rates are bytes/s (None = unlimited); `queue_bytes` is the bottleneck
    buffer per direction (default: one bandwidth-delay product, at least 64 KiB)."""

    def __init__(self, upstream: Address, *, rtt: float = 0.04,
                 rate_up: float | None = 12.5e6, rate_down: float | None = 12.5e6,
                 queue_bytes: int | None = None, stall_probability: float = 0.0,
                 stall: float = 0.2, seed: int = 0, handshake: bool = True) -> None:
        self.upstream = upstream
        self.rtt = rtt
        self.stall_probability = stall_probability
        self.stall = stall
        self.seed = seed
        self.handshake = handshake
        self._rates = (rate_up, rate_down)
        self._queue_bytes = queue_bytes
        self._lock = threading.Lock()
        self._bytes_up = self._bytes_down = self._connections = 0
        self._thread: threading.Thread | None = None
        self._address: Address | None = None
        self._pairs: set[_Pair] = set()
        self._numbers = itertools.count()  # seeds each connection's stall draws

    # --- the caller's side (any thread) --------------------------------------------------

    def start(self) -> Link:
        if self._thread is not None:
            raise RuntimeError("link already started")
        self._loop = asyncio.new_event_loop()
        self._up = _Bottleneck(self._loop, self._rates[0], self._queue_bytes, self.rtt)
        self._down = _Bottleneck(self._loop, self._rates[1], self._queue_bytes, self.rtt)
        self._stopping = asyncio.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="wan-link", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            self.stop()
            raise RuntimeError("link did not start") from self._failure
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            thread.join(15)
        if thread.is_alive():
            raise RuntimeError("link thread did not stop")

    def __enter__(self) -> Link:
        return self.start() if self._thread is None else self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def address(self) -> Address:
        if self._address is None:
            raise RuntimeError("link not started")
        return self._address

    @property
    def endpoint(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def bytes_up(self) -> int:
        with self._lock:
            return self._bytes_up

    @property
    def bytes_down(self) -> int:
        with self._lock:
            return self._bytes_down

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def open_connections(self) -> int:
        """Relayed connections not yet fully closed (either socket still open)."""
        return len(self._pairs)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the relay's thread has used so far (Linux /proc)."""
        thread = self._thread
        if thread is None or thread.native_id is None:
            return 0.0
        stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_counters(self) -> None:
        """Zero bytes_up, bytes_down and connections (between benchmark phases, say)."""
        with self._lock:
            self._bytes_up = self._bytes_down = self._connections = 0

    def set_rate(self, up: float | None, down: float | None) -> None:
        """New rates in bytes/s, applied at once (to the chunk being serialized too)."""
        self._rates = (up, down)
        if self._thread is None:
            return

        async def apply() -> None:
            self._up.set_rate(up)
            self._down.set_rate(down)

        asyncio.run_coroutine_threadsafe(apply(), self._loop).result(10)

    # --- the loop's side ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        listener = _socket()
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            server = await self._loop.create_server(self._accept, sock=listener)
        except BaseException as exc:
            listener.close()
            self._failure = exc
            self._ready.set()
            return
        self._address = cast(Address, listener.getsockname()[:2])
        self._ready.set()
        await self._stopping.wait()
        server.close()
        await self._shut_down()
        await server.wait_closed()

    async def _shut_down(self) -> None:
        """End every connection at once and wait (bounded) until their sockets are closed."""
        self._up.close()
        self._down.close()
        tasks = [pair.task for pair in self._pairs if pair.task is not None]
        for pair in list(self._pairs):
            pair.up.kill()
            pair.down.kill()
            pair.close(abort=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(400):
            if not self._pairs:
                return
            await asyncio.sleep(0.005)

    def _accept(self) -> _End:
        with self._lock:
            self._connections += 1
        pair = _Pair(self, next(self._numbers))
        self._pairs.add(pair)
        return pair.client

    def _delivered(self, up: bool, n: int) -> None:
        with self._lock:
            if up:
                self._bytes_up += n
            else:
                self._bytes_down += n
