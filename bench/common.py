"""Helpers shared by the benchmark scripts: timing loops and the result table."""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYCONTAIN = os.environ.get("PYCONTAIN_BIN") or str(Path(sys.executable).parent / "pycontain")


def in_private_netns() -> None:
    """Unless already there: run this script again under `unshare --net`, with
    lo up, so that what it measures never touches the host's network."""
    if os.environ.get("PYCONTAIN_BENCH_NETNS") == "1":
        return
    script = 'ip link set lo up && exec "$0" "$@"'
    os.execvpe("unshare", ["unshare", "--net", "sh", "-c", script, sys.executable,
                           *sys.argv], dict(os.environ, PYCONTAIN_BENCH_NETNS="1"))


def run_quiet(cmd, **kwargs) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)


def time_once(cmd, **kwargs) -> float:
    start = time.perf_counter()
    run_quiet(cmd, **kwargs)
    return (time.perf_counter() - start) * 1000


def measure(cases: dict, rounds: int, warmup: int = 3) -> dict:
    """cases: label -> zero-arg callable returning ms. Rounds are interleaved so
    that noise on this shared machine hits every case alike. Returns label -> samples."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples = {label: [] for label in cases}
    for _ in range(rounds):
        for label, fn in cases.items():
            samples[label].append(fn())
    return samples


def print_table(samples: dict, baseline: str, title: str) -> None:
    """Median, p90 and the ratio of each median to the baseline's."""
    base = statistics.median(samples[baseline])
    print(f"\n{title} (ratio: median / median of {baseline})")
    print(f"| {'case':<44} | {'median ms':>9} | {'p90 ms':>7} | {'ratio':>14} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 9}|{'-' * 16}|")
    for label, values in samples.items():
        values = sorted(values)
        med = statistics.median(values)
        p90 = values[int(len(values) * 0.9) - 1]
        print(f"| {label:<44} | {med:9.1f} | {p90:7.1f} | {med / base:13.2f}x |")
