"""WSGI middleware for benchmarks: when each request arrived and when its response was finished.

Used by bench_pwa.py's sync figure to say where the wall-clock time goes: server time per kind
of request, how many requests were in flight at once, and how long the server sat idle (the
client's own time: IndexedDB, hashing, the gaps between requests).
"""
from __future__ import annotations

import re
import statistics
import threading
import time

_HEX = re.compile(r"/[0-9a-f]{64}")


class RequestTimer:
    """Records (method, path with hashes folded, start, end) for every request."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.rows: list[tuple[str, str, float, float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        t0, c0 = time.perf_counter(), time.thread_time()
        method, path = environ["REQUEST_METHOD"], _HEX.sub("/<sha256>", environ.get("PATH_INFO", ""))
        try:
            # Consume the body inside the timed span (Werkzeug may stream a lazy iterable).
            body = list(self.wsgi_app(environ, start_response))
        finally:
            with self.lock:
                # thread_time: this request's own CPU (one thread per request), whatever the load.
                self.rows.append((method, path, t0, time.perf_counter(), time.thread_time() - c0))
        return body

    def reset(self) -> None:
        with self.lock:
            self.rows.clear()

    def report(self, t_start: float, t_end: float) -> list[str]:
        """Lines describing the requests between t_start and t_end (perf_counter seconds)."""
        with self.lock:
            rows = [r for r in self.rows if r[2] >= t_start and r[3] <= t_end + 5]
        kinds: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for method, path, a, b, cpu in rows:
            kinds.setdefault((method, path), []).append((b - a, cpu))
        lines = []
        for (method, path), got in sorted(kinds.items(), key=lambda kv: -sum(d for d, _ in kv[1])):
            durs, cpus = [d for d, _ in got], [c for _, c in got]
            lines.append(f"  {method:5} {path:40} n={len(durs):4}  wall sum {sum(durs):6.1f} s  "
                         f"median {statistics.median(durs) * 1000:6.1f} ms  max {max(durs) * 1000:6.1f} ms;  "
                         f"CPU sum {sum(cpus):5.1f} s  median {statistics.median(cpus) * 1000:5.1f} ms")
        # Wall time with at least one request in flight, and mean concurrency while busy.
        events = sorted([(r[2], 1) for r in rows] + [(r[3], -1) for r in rows])
        busy = area = 0.0
        depth, last = 0, t_start
        for t, d in events:
            if depth > 0:
                busy += t - last
                area += depth * (t - last)
            depth, last = depth + d, t
        wall = t_end - t_start
        lines.append(f"  server busy (>= 1 request in flight) {busy:.1f} s of {wall:.1f} s wall; "
                     f"idle {wall - busy:.1f} s; mean requests in flight while busy {area / busy if busy else 0:.2f}")
        return lines


def descendants_cpu_seconds(root: int) -> dict[int, float]:
    """user+system CPU seconds of every live descendant of `root` (Linux /proc), by pid.

    For the sync figure: Chromium's (and Playwright's driver's) CPU, which the wall-clock time on
    a shared machine hides. Processes that exit in between are not counted.
    """
    import os

    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    out = {}
    for pid in cpu:
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root and pid != root:
            out[pid] = cpu[pid]
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())
