"""Where the offline cold start of the PWA spends its time: one DevTools trace, summarised.

    .venv/bin/python bench/trace_pwa_cold.py [runs] [--save trace.json]

Same setup as `bench_pwa.py cold` (real app, logged-in profile, network cut, 4x CPU throttle,
new browser process), but the page is observed only through CDP (no injected helper script)
and a `devtools.timeline` trace is recorded. Prints the renderer main thread's top-level tasks
from navigation start to the `firesweep-ready` mark, with the biggest trace events inside each.
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
                    if save:
                        Path(save).write_text(json.dumps(events))
                    ctx.close()
        finally:
            server.httpd.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
