#!/usr/bin/env python3
"""Turns bench/run.sh's raw rounds into the Markdown results table.

    bench/summarize.py RESULTS_TSV HEADER_LINE

Each input row is one round: conns, route, server, round, req/s, p50 ms,
p99 ms, server RSS KiB, server CPU time in clock ticks (user, then
system), requests, seconds the round lasted. Rounds of the same (conns,
route, server) are folded into their median, so one noisy minute on a
shared VM does not decide a ratio; every ratio compares medians of rounds that ran interleaved with the
native baseline's.

BASELINE_SERVER (environment; default "native") names the server every other row
is compared with, e.g. "interpreted" for bench/js-aot.sh.

Rows of routes the native baseline does not serve (the key-value samples)
are compared with fresh hello at the same connection count instead: their
"× native" column reads "0.85 × hello".

Server CPU per request (user + system, from /proc/PID/stat) is the steadier
figure: it does not depend on how fast the load generator wakes up, and it
says where a server spends its time (system = the kernel's TCP work and,
for wasmroutes, the pool slot reset). "CPU × native" is the native
baseline's CPU per request over this row's: the share of a native core's
efficiency, the ratio that does not depend on whether either server filled
its core. "core busy" is the server's CPU time over the round's wall time
(every server is pinned to one core): a baseline well under 100% was not
saturated, and its req/s flatters every ratio taken against it.
"""
import os
import statistics
import sys


def main():
    path, header = sys.argv[1], sys.argv[2]
    baseline = os.environ.get("BASELINE_SERVER", "native")
    tick = os.sysconf("SC_CLK_TCK")
    groups = {}
    order = []
    with open(path) as f:
        for line in f:
            conns, route, server, _round, rps, p50, p99, rss, user, system, requests, seconds = line.rstrip("\n").split(
                "\t"
            )
            key = (conns, route, server)
            if key not in groups:
                groups[key] = []
                order.append(key)
            requests = max(int(requests), 1)
            groups[key].append(
                {
                    "rps": float(rps),
                    "p50": float(p50),
                    "p99": float(p99),
                    "rss": int(rss),
                    "user_us": int(user) / tick * 1e6 / requests,
                    "sys_us": int(system) / tick * 1e6 / requests,
                    "cpu_us": (int(user) + int(system)) / tick * 1e6 / requests,
                    "busy": (int(user) + int(system)) / tick / max(float(seconds), 1e-9),
                }
            )

    def median(key, field):
        return statistics.median(r[field] for r in groups[key])

    print(header)
    print()
    print(
        f"| conns | route | server | req/s | × {baseline} | p50 ms | p99 ms | p99 × {baseline} "
        f"| CPU µs/req (user+sys) | CPU × {baseline} | core busy | server RSS MiB |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in order:
        conns, route, server = key
        base = (conns, route, baseline)
        hello = (conns, "GET /api/hello", "fresh")
        rps = median(key, "rps")
        p99 = median(key, "p99")
        cpu = median(key, "cpu_us")
        if base in groups:
            ratio = f"{rps / median(base, 'rps'):.2f}"
            p99_ratio = f"{p99 / median(base, 'p99'):.1f}"
            cpu_ratio = f"{median(base, 'cpu_us') / cpu:.2f}"
        elif hello in groups:
            ratio = f"{rps / median(hello, 'rps'):.2f} × hello"
            p99_ratio = f"{p99 / median(hello, 'p99'):.1f} × hello"
            cpu_ratio = f"{cpu / median(hello, 'cpu_us'):.2f} × hello's cost"
        else:
            ratio = p99_ratio = cpu_ratio = "–"
        user, system = median(key, "user_us"), median(key, "sys_us")
        method, target = route.split(" ")[:2]
        print(
            f"| {conns} | {method} {target} | {server} | {rps:.0f} | {ratio} | {median(key, 'p50'):.3f} "
            f"| {p99:.3f} | {p99_ratio} | {cpu:.1f} ({user:.1f}+{system:.1f}) | {cpu_ratio} "
            f"| {median(key, 'busy') * 100:.0f}% | {max(r['rss'] for r in groups[key]) / 1024:.1f} |"
        )


if __name__ == "__main__":
    main()
