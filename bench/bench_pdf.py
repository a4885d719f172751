"""PDF rendering benchmark: one-page 责令限期改正通知书, WeasyPrint vs headless Chromium.

    python bench/bench_pdf.py                     # cold, warm, Chromium, batch of 1945
    python bench/bench_pdf.py --n 200 --runs 20   # quicker
    python bench/bench_pdf.py --out /tmp/pdf-bench.md  # then copy into docs/BENCHMARKS.md

Measures, for the same view model:
- cold: a new Python process importing server.pdf and rendering one notice;
- warm: median/p90 wall and CPU time per notice in one process, PDF size, peak RSS;
- Chromium: the same HTML (render_html) printed by headless Chromium (page.pdf) through
  Playwright, warm median wall time, CPU of all its processes and PDF size; WeasyPrint and
  Chromium alternate notice by notice, so a busy machine slows both alike;
- batch: N notices (default 1945, the brigade's yearly count), total time and RSS sampled
  every 100 documents, to show memory stays flat.
Prints a markdown table; --out also writes it, with the command and the machine's load.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KIND = "deadline_rectification"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Parties of a district's year: most names are plain GB 2312, some are not (碶, 堃, 䶮 …).
PARTIES = [
    ("宁波市北仑区新碶街道明辉五金加工厂", "王建国", "宁波市北仑区新碶街道明州路588号"),
    ("宁波北仑港城餐饮有限公司", "李秀英", "宁波市北仑区大碶街道庐山东路166号"),
    ("北仑区小港红联便利店", "陈𠮷", "宁波市北仑区小港街道红联村112号"),
    ("宁波堃喆物流有限公司", "张䶮", "宁波市北仑区戚家山街道东海路9号"),
    ("北仑区霞浦出租屋（二房东：赵丽）", "赵丽", "宁波市北仑区霞浦街道霞南新村7幢"),
]


def view_model(serial):
    """The benchmark's notice: six hazards, one page; party varies with the serial."""
    from tests.pdf.samples import view_model as sample

    vm = sample(KIND, serial=serial)
    name, person, address = PARTIES[serial % len(PARTIES)]
    vm["party"].update(name=name, responsible_person=person, address=address)
    vm["venue"] = {"name": name, "address": address}
    vm["receipt"]["name"] = person
    return vm


def rss_mib():
    """Current and peak resident memory of this process (MiB), from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def cold_child():
    """Run in a fresh interpreter: import, render once, report timings as JSON."""
    t0 = time.perf_counter()
    from server.pdf import render
    vm = view_model(1)
    t1 = time.perf_counter()
    pdf = render(KIND, vm)
    t2 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first_render": t2 - t1, "size": len(pdf)}))


def measure_cold(repeats):
    rows = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--cold-child"], check=True,
                             capture_output=True, text=True, cwd=ROOT).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["process"] = time.perf_counter() - start
        rows.append(row)
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def chromium_cpu_seconds():
    """CPU time used so far by every Chromium process (browser, renderer, GPU, utility)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "chromium" not in os.readlink(f"/proc/{pid}/exe"):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone, or not ours to read
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / ticks


class Chromium:
    """Headless Chromium printing render_html() output, one reused page (its best case)."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        from server.pdf import render_html

        self._render_html = render_html
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        self._page = self._browser.new_page()
        return self

    def print(self, serial):
        self._page.set_content(self._render_html(KIND, view_model(serial)), wait_until="load")
        return self._page.pdf(format="A4", prefer_css_page_size=True, print_background=True)

    def __exit__(self, *exc):
        self._browser.close()
        self._playwright.stop()


def measure_warm(runs, with_chromium):
    """Warm timings; WeasyPrint and Chromium alternate per notice, so both see the same load."""
    from server.pdf import render

    chromium = Chromium().__enter__() if with_chromium else None
    try:
        for serial in range(1, 4):  # warm-up: imports, font location, first gc.freeze
            render(KIND, view_model(serial))
            if chromium:
                chromium.print(serial)
        ours, theirs = {"wall": [], "cpu": [], "faults": []}, {"wall": [], "cpu": [], "size": []}
        for serial in range(10, 10 + runs):
            vm = view_model(serial)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            wall, cpu = time.perf_counter(), time.process_time()
            render(KIND, vm)
            ours["wall"].append(time.perf_counter() - wall)
            ours["cpu"].append(time.process_time() - cpu)
            ours["faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
            if chromium:
                wall, cpu = time.perf_counter(), chromium_cpu_seconds()
                pdf = chromium.print(serial)
                theirs["wall"].append(time.perf_counter() - wall)
                theirs["cpu"].append(chromium_cpu_seconds() - cpu)
                theirs["size"].append(len(pdf))
    finally:
        if chromium:
            chromium.__exit__()
    walls = sorted(ours["wall"])
    sizes = [len(render(KIND, view_model(s))) for s in range(len(PARTIES))]
    warm = {"wall": statistics.median(walls), "p90": walls[int(len(walls) * 0.9) - 1],
            "cpu": statistics.median(ours["cpu"]), "size": max(sizes), "size_min": min(sizes),
            "faults": statistics.median(ours["faults"]),
            "rss_peak": rss_mib()[1]}
    other = None
    if chromium:
        # Chromium's CPU ticks are 10 ms coarse: the mean over the runs, not the median.
        other = {"wall": statistics.median(theirs["wall"]), "size": max(theirs["size"]),
                 "cpu": sum(theirs["cpu"]) / runs}
    return warm, other


def measure_batch(n):
    from server.pdf import render

    samples = []
    start = time.perf_counter()
    cpu = time.process_time()
    for i in range(1, n + 1):
        render(KIND, view_model(i))
        if i % 100 == 0 or i == n:
            samples.append((i, round(rss_mib()[0])))
    return {"n": n, "total": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "rss": samples, "rss_peak": rss_mib()[1]}


def table(cold, warm, chromium, batch):
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    kb = lambda b: f"{b / 1024:.0f} KB"  # noqa: E731
    lines = ["| measure | WeasyPrint (server/pdf) | headless Chromium `page.pdf` |",
             "|---|---|---|"]
    if cold:
        lines.append(f"| cold: new process → first PDF (import / first render) | "
                     f"{ms(cold['process'])} ({ms(cold['import'])} / "
                     f"{ms(cold['first_render'])}) | — |")
    chromium_wall = f"{ms(chromium['wall'])}" if chromium else "not run"
    lines += [
        f"| warm median wall per notice (p90) | {ms(warm['wall'])} ({ms(warm['p90'])}) | "
        f"{chromium_wall} |",
        f"| warm CPU per notice (median; Chromium: mean over all its processes) | "
        f"{ms(warm['cpu'])} | {ms(chromium['cpu']) if chromium else '—'} |",
        f"| minor page faults per notice (median; load-independent) | {warm['faults']:.0f} | — |",
        f"| PDF size | {kb(warm['size_min'])}–{kb(warm['size'])} | "
        f"{kb(chromium['size']) if chromium else '—'} |",
        f"| peak RSS after warm runs | {warm['rss_peak']:.0f} MiB | — |",
    ]
    if chromium:
        lines.append(f"| Chromium ÷ WeasyPrint: wall time / CPU time | "
                     f"{chromium['wall'] / warm['wall']:.1f}× / "
                     f"{chromium['cpu'] / warm['cpu']:.1f}× | 1× |")
    if batch:
        per_doc = batch["total"] / batch["n"]
        rss = ", ".join(f"{i}: {m}" for i, m in batch["rss"])
        lines += [
            "",
            f"Batch of {batch['n']} notices: {batch['total']:.1f} s wall "
            f"({ms(per_doc)} per notice, {batch['cpu']:.1f} s CPU), peak RSS "
            f"{batch['rss_peak']:.0f} MiB.",
            "",
            f"RSS (MiB) by documents rendered: {rss}.",
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1945, help="batch size (0 to skip)")
    parser.add_argument("--runs", type=int, default=30, help="warm renders to time")
    parser.add_argument("--cold", type=int, default=3, help="cold processes to time")
    parser.add_argument("--no-chromium", action="store_true")
    parser.add_argument("--out", help="also write the results to this markdown file")
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        return cold_child()

    load_before = os.getloadavg()
    cold = measure_cold(args.cold) if args.cold else None
    warm, chromium = measure_warm(args.runs, with_chromium=not args.no_chromium)
    batch = measure_batch(args.n) if args.n else None
    load_after = os.getloadavg()

    result = table(cold, warm, chromium, batch)
    command = "python bench/bench_pdf.py " + " ".join(sys.argv[1:])
    machine = (f"{platform.python_implementation()} {platform.python_version()}, "
               f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / "
               f"{load_after[0]:.1f} after, max RSS "
               f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(result)
    print(f"\n`{command.strip()}` — {machine}")
    if args.out:
        Path(args.out).write_text(
            f"```\n{command.strip()}\n```\n\n{machine}\n\n{result}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
