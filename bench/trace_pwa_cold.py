"""Where the offline cold start of the PWA spends its time: one DevTools trace, summarised.

    .venv/bin/python bench/trace_pwa_cold.py [runs] [--save trace.json]

Same setup as `bench_pwa.py cold` (real app, logged-in profile, network cut, 4x CPU throttle,
new browser process), but the page is observed only through CDP (no injected helper script)
and a `devtools.timeline` trace is recorded. Prints the renderer main thread's top-level tasks
from navigation start to the `firesweep-ready` mark, with the biggest trace events inside each,
then (`phases`) when the shell was committed and parsed, the requests before the mark and where
each answer came from, what the service worker did (thread CPU, script evaluations, code cache,
fetch events: none when the static routes answer everything), and the
CPU time of every busy thread of every Chromium process over the same span (the machine has 2
cores: other processes' work competes with the page's main thread).
"""
from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pwa import cold_profile, open_offline_cold, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CATEGORIES = ",".join([
    "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink", "loading",
    "toplevel", "blink.user_timing", "navigation", "disabled-by-default-devtools.timeline.frame",
    "ServiceWorker",
])


def read_stream(cdp, handle: str) -> str:
    out = []
    while True:
        chunk = cdp.send("IO.read", {"handle": handle, "size": 1 << 20})
        out.append(chunk["data"])
        if chunk.get("eof"):
            break
    cdp.send("IO.close", {"handle": handle})
    return "".join(out)


def summarise(events: list[dict], verbose=True) -> None:
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    marks = [e for e in events if e.get("name") in ("firesweep-ready", "navigationStart") and e.get("ph") in ("R", "I", "b", "n")]
    ready = [e for e in events if e.get("name") == "firesweep-ready"]
    nav = [e for e in events if e.get("name") == "navigationStart"]
    if not ready:
        print("no firesweep-ready mark in the trace")
        return
    r = ready[-1]
    main = (r["pid"], r["tid"]) if (r["pid"], r["tid"]) in mains else next(iter(m for m in mains if m[0] == r["pid"]), None)
    t0 = min((e["ts"] for e in nav if e["pid"] == r["pid"]), default=None)
    if t0 is None:
        t0 = min(e["ts"] for e in events if (e["pid"], e["tid"]) == main and e.get("ph") == "X")
    end = r["ts"]
    print(f"navigationStart → firesweep-ready: {(end - t0) / 1000:.0f} ms (trace clock); marks seen: {len(marks)}")
    xs = sorted((e for e in events if (e["pid"], e["tid"]) == main and e.get("ph") == "X" and "dur" in e
                 and e["ts"] + e["dur"] >= t0 and e["ts"] <= end), key=lambda e: (e["ts"], -e["dur"]))
    top, last_end = [], -1
    for e in xs:
        if e["ts"] >= last_end:
            top.append(e)
            last_end = e["ts"] + e["dur"]
    busy = sum(e["dur"] for e in top)
    cpu = sum(e.get("tdur", 0) for e in top)  # thread CPU time: far less sensitive to other load
    print(f"main thread busy {busy / 1000:.0f} ms of {(end - t0) / 1000:.0f} ms in {len(top)} top-level tasks; "
          f"its CPU time {cpu / 1000:.0f} ms; layouts {sum(1 for e in xs if e['name'] == 'Layout')}, "
          f"paints {sum(1 for e in xs if e['name'] == 'Paint')}")
    for e in top:
        if e["dur"] < 3000 or not verbose:
            continue
        inner = [c for c in xs if c is not e and e["ts"] <= c["ts"] and c["ts"] + c["dur"] <= e["ts"] + e["dur"]]
        by = defaultdict(int)
        for c in inner:
            by[c["name"]] += c["dur"]
        best = sorted(by.items(), key=lambda kv: -kv[1])[:6]
        detail = ", ".join(f"{n} {d / 1000:.0f}" for n, d in best)
        url = ""
        for c in inner:
            a = c.get("args", {}).get("data", {}) or {}
            if a.get("url"):
                url = " " + a["url"].rsplit("/", 2)[-1] if "/" in a["url"] else a["url"]
                break
        print(f"  +{(e['ts'] - t0) / 1000:6.0f} ms {e['dur'] / 1000:6.1f} ms {e['name']}: {detail}{url}")


def phases(events: list[dict]) -> None:
    """Navigation → shell response → commit → parse end → ready; the worker; requests; CPU per thread."""
    ready = [e for e in events if e.get("name") == "firesweep-ready"]
    if not ready:
        return
    r = ready[-1]
    pid, end = r["pid"], r["ts"]
    t0 = min((e["ts"] for e in events if e.get("name") == "navigationStart" and e["pid"] == pid), default=None)
    if t0 is None:
        return
    names, procs = {}, {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"].get("name", "?")
        if e.get("ph") == "M" and e.get("name") == "process_name":
            procs[e["pid"]] = e["args"].get("name", "?")
    rel = lambda ts: (ts - t0) / 1000  # noqa: E731

    def first(name, after=t0, **match):
        return min((e for e in events if e.get("name") == name and e.get("pid") == pid and e["ts"] >= after
                    and all(e.get("args", {}).get("data", {}).get(k) == v for k, v in match.items())),
                   key=lambda e: e["ts"], default=None)

    doc = first("ResourceReceiveResponse", mimeType="text/html")  # logged by the renderer during the commit
    # the app's document is committed by the longest CommitNavigation (the others are about:blank)
    commit = max((e for e in events if e.get("name") == "RenderFrameImpl::CommitNavigation" and e.get("pid") == pid
                  and t0 <= e["ts"] <= end and "dur" in e), key=lambda e: e["dur"], default=None)
    parsed = first("Document::FinishedParsing", after=commit["ts"]) if commit else None
    fcp = first("firstContentfulPaint")
    source = "?"
    if doc:  # Cache Storage either way: a static route or the fetch handler's caches.match (see fetch events)
        d = doc["args"]["data"]
        source = (f"Cache Storage ({d['cacheStorageCacheName']})" if d.get("cacheStorageCacheName")
                  else "the service worker" if d.get("fromServiceWorker") else "network/HTTP cache")
    print("phases (ms after navigation start): "
          + ", ".join(f"{label} {rel(e['ts']):.0f}" for label, e in
                      [("commit of the shell starts", commit), ("parsing done", parsed),
                       ("first contentful paint", fcp), ("ready", r)] if e)
          + f"; shell from: {source}")
    # the requests the page made before the mark, and how each was answered
    sends = {e["args"]["data"].get("requestId"): e for e in events
             if e.get("name") == "ResourceSendRequest" and e.get("pid") == pid and e["ts"] <= end}
    answers = {e["args"]["data"].get("requestId"): e["args"]["data"] for e in events
               if e.get("name") == "ResourceReceiveResponse" and e.get("pid") == pid}
    rows = []
    for rid, e in sorted(sends.items(), key=lambda kv: kv[1]["ts"]):
        a = answers.get(rid, {})
        how = ("cache" if a.get("cacheStorageCacheName") else "worker" if a.get("fromServiceWorker")
               else "no answer yet" if not a else "network")
        path = "/" + e["args"]["data"].get("url", "").split("/", 3)[-1]
        rows.append(f"{path} ({how})")
    print(f"requests before the mark: {len(rows)}: " + ", ".join(rows))
    # the service worker's thread in the page's process (the static routes answer without a fetch
    # event, but Chromium still starts the worker for a controlled navigation)
    span0, span1 = t0 - 200_000, end
    sw = [k for k, v in names.items() if v == "ServiceWorker thread"]
    for key in sw:
        xs = [e for e in events if (e.get("pid"), e.get("tid")) == key and e.get("ph") == "X" and "dur" in e
              and span0 <= e["ts"] <= span1]
        evals = [e for e in xs if e["name"] == "EvaluateScript"]
        compiled = [e["args"]["data"] for e in xs if e["name"] == "v8.compile" and "data" in e.get("args", {})]
        # a static route answers from the cache without a fetch event; the fetch handler's answers
        # come from Cache Storage too, so this count is what tells the two apart
        fetches = sum(1 for e in xs if e["name"] == "ServiceWorkerGlobalScope::DispatchFetchEventInternal")
        evaluated = ", ".join(f"{e['dur'] / 1000:.1f} ms at {rel(e['ts']):.0f}" for e in evals)
        print(f"service worker thread (pid {key[0]}): CPU {top_level_cpu(xs) / 1000:.1f} ms between navigation start - 200 ms "
              f"and the mark; script evaluated {len(evals)}x ({evaluated}); "
              f"code cache consumed: {', '.join(str(c.get('consumedCacheSize', 0)) + ' B' for c in compiled) or 'n/a'}; "
              f"fetch events handled: {fetches}")
    if not sw:
        print("service worker thread: not started in this span")
    by_thread = defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e and span0 <= e["ts"] <= span1:
            by_thread[(e["pid"], e["tid"])].append(e)
    cpu = sorted(((top_level_cpu(xs), k) for k, xs in by_thread.items()), reverse=True)
    by_proc = defaultdict(float)
    for c, k in cpu:
        label = procs.get(k[0], "?") + (" (the page)" if k[0] == pid else "")
        by_proc[label] += c
    print("CPU time by process, navigation start - 200 ms → mark: "
          + ", ".join(f"{p} {c / 1000:.0f} ms" for p, c in sorted(by_proc.items(), key=lambda kv: -kv[1])))
    print("  busiest threads: " + ", ".join(
        f"{procs.get(k[0], '?')}/{names.get(k, k[1])} {c / 1000:.0f}" for c, k in cpu[:8]))


def top_level_cpu(xs: list[dict]) -> float:
    """Thread CPU time (µs) of the outermost complete events of one thread."""
    total, last = 0, -1
    for e in sorted(xs, key=lambda e: (e["ts"], -e["dur"])):
        if e["ts"] >= last:
            total += e.get("tdur", 0)
            last = e["ts"] + e["dur"]
    return total


def main(argv: list[str]) -> None:
    runs = int(argv[0]) if argv and argv[0].isdigit() else 1
    save = argv[argv.index("--save") + 1] if "--save" in argv else None
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server, _ = start_server(tmp)
        try:
            with sync_playwright() as p:
                profile = cold_profile(p, server, tmp)
                for _ in range(runs):
                    def before(cdp):
                        cdp.send("Tracing.start", {"categories": CATEGORIES, "transferMode": "ReturnAsStream"})

                    ctx, page, cdp, res = open_offline_cold(p, server, profile, before_navigation=before)
                    done = {}
                    cdp.on("Tracing.tracingComplete", lambda ev: done.setdefault("stream", ev["stream"]))
                    cdp.send("Tracing.end")
                    while "stream" not in done:
                        page.wait_for_timeout(50)
                    data = json.loads(read_stream(cdp, done["stream"]))
                    events = data["traceEvents"] if isinstance(data, dict) else data
                    print(f"ready at {res['ready']:.0f} ms after navigation start")
                    summarise(events, verbose="-q" not in argv)
                    phases(events)
                    if save:
                        Path(save).write_text(json.dumps(events))
                    ctx.close()
        finally:
            server.httpd.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
