#!/usr/bin/env python3
"""Start-up time to first answer and RSS per route, cold and from the cache.

    bench/startup.py [COUNTS...]        (default: 1 100 1000)

For each count N it makes N distinct components (the hello route with a
unique custom section appended, so each one compiles separately), writes a
routes.toml with N routes, and measures from process start to the first
200 answer: once with an empty compile cache (cold) and once from the cache.
Run via bench/startup.sh, which builds everything first.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/wasmroutes")
HELLO = os.path.join(ROOT, "target/wasm32-wasip2/release/hello.wasm")


def leb128(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def variant(base, i):
    name = b"wasmroutes-bench"
    payload = leb128(len(name)) + name + str(i).encode()
    return base + b"\x00" + leb128(len(payload)) + payload


def rss_kib(pid):
    """VmRSS, and its anonymous and file-backed parts, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("RssAnon", 0), fields.get("RssFile", 0)


def first_answer(routes_toml, cache_dir):
    env = dict(os.environ, RUST_LOG="warn")
    start = time.monotonic()
    proc = subprocess.Popen(
        [BINARY, "serve", routes_toml, "--addr", "127.0.0.1:0", "--cache-dir", cache_dir],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    addr = None
    for line in proc.stderr:
        m = re.search(r"listening on http://([0-9.]+):(\d+)", line)
        if m:
            addr = (m.group(1), int(m.group(2)))
            break
    if addr is None:
        raise SystemExit("server did not start")
    while True:
        with socket.create_connection(addr) as s:
            s.sendall(b"GET /r/0 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                break
        time.sleep(0.001)
    elapsed_ms = (time.monotonic() - start) * 1000
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait()
    return elapsed_ms, rss


def main():
    counts = [int(c) for c in sys.argv[1:]] or [1, 100, 1000]
    with open(HELLO, "rb") as f:
        base = f.read()
    rows = []
    for n in counts:
        work = tempfile.mkdtemp(prefix="wasmroutes-startup-")
        try:
            lines = []
            for i in range(n):
                path = os.path.join(work, f"r{i}.wasm")
                with open(path, "wb") as f:
                    f.write(variant(base, i))
                lines.append(f'[[route]]\npath = "/r/{i}"\ncomponent = "r{i}.wasm"\n')
            toml = os.path.join(work, "routes.toml")
            with open(toml, "w") as f:
                f.write("\n".join(lines))
            cache = os.path.join(work, "cache")
            cold_ms, cold_rss = first_answer(toml, cache)
            warm_ms, warm_rss = first_answer(toml, cache)
            rows.append((n, cold_ms, warm_ms, warm_rss))
            print(f"routes={n} cold_ms={cold_ms:.0f} cached_ms={warm_ms:.0f} rss_kib={warm_rss[0]} "
                  f"anon_kib={warm_rss[1]} file_kib={warm_rss[2]}", flush=True)
        finally:
            shutil.rmtree(work)
    print()
    print("| routes | first answer, cold compile | first answer, from cache | RSS after start (from cache) | of which anonymous / file-backed |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n, cold, warm, (rss, anon, file) in rows:
        print(f"| {n} | {cold:.0f} ms | {warm:.0f} ms | {rss / 1024:.1f} MiB | {anon / 1024:.1f} / {file / 1024:.1f} MiB |")
    if len(rows) >= 2 and rows[-1][0] > rows[0][0]:
        routes = rows[-1][0] - rows[0][0]
        per_route = (rows[-1][3][0] - rows[0][3][0]) / routes
        anon = (rows[-1][3][1] - rows[0][3][1]) / routes
        print(f"\nRSS growth per loaded route: {per_route:.0f} KiB ({anon:.0f} KiB of it anonymous)")


if __name__ == "__main__":
    main()
