"""Export of renditions (issue 22, item 6): files/s and MB/s of ``export_files`` at concurrency 1 and 4 over a
stand-in answering every data request (links and downloads) after ``--latency`` seconds, and the peak RSS growth
while exporting a few large originals (about 50 MB each).

The stand-in runs as a separate process (``benchmarks.common.StandInProcess``), so that serving does not share
this process's GIL or memory; the client is ``api/files_out.export_files`` with a bearer-token session, exactly
what ``OrangeLogicHook.export_files`` runs minus the Airflow connection. Files land in a temporary directory.

    .venv/bin/python -m benchmarks.export_renditions [--files 1000] [--latency 0.05] [--reps 1]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import StandInProcess, machine_info, median
from benchmarks.search_memory import _reset_peak, _status_kb

BEARER = "bench-files-token"
FORMAT = "TR4"  # a small thumbnail: the figure is per-file cost, not bandwidth
LARGE = 4  # originals in the memory run


def _request(url: str) -> Any:
    from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
    from airflow_provider_orangelogic.core.retry import RetryPolicy

    session = new_session(FixedToken(BEARER), base_url=url)
    policy = RetryPolicy()

    def request(method: str, endpoint: str, **kwargs: Any) -> Any:
        return send_with_retries(session, method, url + endpoint, retry=policy, timeout=30, **kwargs)

    return request


def _export(url: str, targets: list[str], formats: list[str], concurrency: int) -> dict[str, Any]:
    from airflow_provider_orangelogic.api.files_out import LocalDirectory, export_files

    directory = tempfile.mkdtemp(prefix="ol-bench-files-")
    try:
        gc.collect()
        reset = _reset_peak()
        baseline = _status_kb("VmRSS") or 0
        start = time.perf_counter()
        summary = export_files(
            _request(url), targets, destination=LocalDirectory(directory), formats=formats, concurrency=concurrency
        )
        seconds = time.perf_counter() - start
        peak = _status_kb("VmHWM") if reset else None
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if summary.failed:
        raise RuntimeError(f"{summary.failed} file(s) failed: {summary.failures[:3]}")
    return {
        "concurrency": concurrency,
        "files": summary.files,
        "seconds": seconds,
        "files_per_s": summary.files / seconds,
        "mb_per_s": summary.bytes / 1e6 / seconds,
        "mb": summary.bytes / 1e6,
        "rss_growth_mb": ((peak or baseline) - baseline) / 1024,
        "peak_in_flight": summary.peak_in_flight,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args(argv)

    from airflow_provider_orangelogic.testing.stand_in.catalogue import MEDIA_TYPES, asset

    # Audio assets have no thumbnail: take the others.
    size = args.files * 4 // 3 + 4
    numbers = [n for n in range(1, size + 1) if asset(n)["MediaType"] != "Audio"][: args.files]
    largest = sorted(range(1, size + 1), key=lambda n: asset(n)["FileSize"], reverse=True)[:LARGE]
    assert "Audio" in MEDIA_TYPES
    with StandInProcess(catalogue_size=size) as standin:
        standin.configure(bearer_tokens=[BEARER], data_latency=args.latency)
        rows: dict[int, list[dict[str, Any]]] = {1: [], 4: []}
        for _ in range(args.reps):
            for concurrency in (1, 4):
                rows[concurrency].append(_export(standin.url, [str(n) for n in numbers], [FORMAT], concurrency))
        standin.configure(data_latency=0.0)
        large = _export(standin.url, [str(n) for n in largest], ["TRX"], 4)
    print(f"machine: {machine_info()['cpu']} x{machine_info()['nproc']}; stand-in: separate process")
    print(f"{args.files} {FORMAT} renditions, data_latency {args.latency:g} s, {args.reps} rep(s) (median):")
    one = median([r["files_per_s"] for r in rows[1]])
    for concurrency, found in rows.items():
        files_per_s = median([r["files_per_s"] for r in found])
        print(
            f"  concurrency {concurrency}: {files_per_s:7.1f} files/s  {median([r['mb_per_s'] for r in found]):6.2f} "
            f"MB/s  {median([r['seconds'] for r in found]):6.1f} s  ratio {files_per_s / one:4.2f}x  "
            f"peak in flight {max(r['peak_in_flight'] for r in found)}"
        )
    print(
        f"{LARGE} large originals ({large['mb']:.1f} MB in all, no latency, concurrency 4): "
        f"{large['mb_per_s']:.1f} MB/s, peak RSS growth {large['rss_growth_mb']:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
