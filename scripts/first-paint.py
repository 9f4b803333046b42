#!/usr/bin/env python3
"""Launch-to-first-paint of desktop apps, measured the same way in one run (issue 14).

    first-paint.py [--runs N] [--idle] APP [APP ...]

Each APP is launched in turn (alternating, N rounds) on the X display in $DISPLAY, which
must be a private Xvfb showing nothing else (scripts/bench-first-paint.sh starts one),
with a fresh XDG_DATA_HOME / XDG_CONFIG_HOME / MERGEGUARD_DATA_DIR each time (a first
start). The screen is read with XGetImage through libX11 (ctypes, no extra package) every
few milliseconds from the moment of launch:

  window  the first frame in which the screen is no longer the bare root (the window is
          mapped, even if still blank);
  painted the first frame with more than 12 distinct colours: real content, with text
          (the measure of ../shared/recipes/startup-side-by-side.sh, polled ~20x faster
          than ImageMagick's `import`, so the figure is within ~10 ms, not ~150 ms).

With --trace, each app is started with MG_STARTUP_PROBE=trace and the lines it prints as
`startup STEP EPOCH_MS` (MergeGuard: main, store opened, setup, page load started, first
commands, page load finished) are shown in milliseconds since launch, beside the paint.

With --idle, the PSS of the app and all its descendants (WebKit's web and network
processes) is read 10 s after launch. One line per launch, then per-app medians.
"""
import argparse
import ctypes
import ctypes.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

X = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")


class XImage(ctypes.Structure):
    # The leading fields of Xlib's XImage (X11/Xlib.h); the rest is never read.
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_uint32)),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


X.XOpenDisplay.restype = ctypes.c_void_p
X.XOpenDisplay.argtypes = [ctypes.c_char_p]
X.XDefaultRootWindow.restype = ctypes.c_ulong
X.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
X.XGetImage.restype = ctypes.POINTER(XImage)
X.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                        ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
X.XFree.argtypes = [ctypes.c_void_p]
X.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
X.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
Z_PIXMAP = 2
ALL_PLANES = 0xFFFFFFFF


def colours(dpy, root, w, h):
    """Distinct colours on the screen, read from three full-width bands (at 15%, 50% and
    80% of the height, 48 rows each: whatever the layout, real content crosses one),
    every 7th pixel: ~28,000 samples for ~1 ms of this script's CPU per look."""
    seen = set()
    for frac in (0.15, 0.5, 0.8):
        img = X.XGetImage(dpy, root, 0, int(h * frac), w, 48, ALL_PLANES, Z_PIXMAP)
        if not img:
            continue
        try:
            i = img.contents
            assert i.bits_per_pixel == 32, "a 24-bit Xvfb screen (32 bits per pixel) is needed"
            n = i.bytes_per_line // 4 * i.height
            pixels = ctypes.cast(i.data, ctypes.POINTER(ctypes.c_uint32 * n)).contents
            seen.update(memoryview(pixels).cast("B").cast("I")[::7])
        finally:
            X.XFree(img.contents.data)
            X.XFree(img)
    return len(seen)


def tree(pid):
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def pss_mib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += sum(int(l.split()[1]) for l in f if l.startswith("Pss:"))
        except OSError:
            pass
    return total // 1024


def read_steps(proc, launched_ms, steps):
    for line in proc.stdout:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "startup" and parts[2].isdigit():
            steps.append((parts[1], int(parts[2]) - launched_ms))


def launch(app, dpy, root, w, h, idle, trace):
    home = tempfile.mkdtemp(prefix="first-paint-")
    env = dict(os.environ, XDG_DATA_HOME=home, XDG_CONFIG_HOME=home, MERGEGUARD_DATA_DIR=home)
    if trace:
        env["MG_STARTUP_PROBE"] = "trace"
    base = colours(dpy, root, w, h)
    start = time.monotonic()
    launched_ms = int(time.time() * 1000)
    proc = subprocess.Popen([app], env=env, stdout=subprocess.PIPE if trace else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    steps = []
    if trace:
        threading.Thread(target=read_steps, args=(proc, launched_ms, steps), daemon=True).start()
    window = painted = None
    while time.monotonic() - start < 15:
        c = colours(dpy, root, w, h)
        t = (time.monotonic() - start) * 1000
        if window is None and c != base:
            window = t
        if c > 12:
            painted = t
            break
        time.sleep(0.010)
    mem = None
    if idle and painted is not None:
        time.sleep(max(0.0, 10 - (time.monotonic() - start)))
        mem = pss_mib(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    shutil.rmtree(home, ignore_errors=True)
    time.sleep(1)
    return window, painted, mem, steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", action="store_true", help="also the PSS 10 s after launch")
    ap.add_argument("--trace", action="store_true", help="show MG_STARTUP_PROBE=trace steps")
    ap.add_argument("apps", nargs="+")
    a = ap.parse_args()
    dpy = X.XOpenDisplay(None)
    if not dpy:
        sys.exit("first-paint: cannot open the X display in $DISPLAY")
    root = X.XDefaultRootWindow(dpy)
    w, h = X.XDisplayWidth(dpy, 0), X.XDisplayHeight(dpy, 0)
    results = {app: [] for app in a.apps}
    for r in range(1, a.runs + 1):
        for app in a.apps:
            window, painted, mem, steps = launch(app, dpy, root, w, h, a.idle, a.trace)
            results[app].append((window, painted, mem))
            fmt = lambda v: "none" if v is None else f"{v:.0f} ms"
            extra = f", idle PSS {mem} MiB" if mem is not None else ""
            print(f"{os.path.basename(app)} round {r}: window {fmt(window)}, "
                  f"painted {fmt(painted)}{extra}", flush=True)
            if steps:
                print("    " + ", ".join(f"{s} {t}" for s, t in steps), flush=True)
    for app, rows in results.items():
        p = sorted(x[1] for x in rows if x[1] is not None)
        m = [x[2] for x in rows if x[2] is not None]
        if not p:
            print(f"{os.path.basename(app)}: never painted")
            continue
        line = (f"{os.path.basename(app)}: painted median {statistics.median(p):.0f} ms "
                f"(runs {', '.join(f'{v:.0f}' for v in p)})")
        if m:
            line += f", idle PSS median {statistics.median(m):.0f} MiB"
        print(line)


if __name__ == "__main__":
    main()
