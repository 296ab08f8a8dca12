"""Multi-part upload (docs/benchmarks.md, "Uploads"): throughput and peak RSS of ``upload_files`` on one large file
at concurrency 1, 4 and 8, against a stand-in process answering every upload request after 50 ms.

The driver (:func:`run`) writes the file once (2 GiB by default, outside the repository), starts the stand-in in its
own process, and runs one fresh worker subprocess per figure (``python -m benchmarks.upload_multipart --worker``),
so that each peak RSS is that run's alone. A worker calls ``api.uploads.upload_files`` exactly as
``hook.upload`` does (same session, same retry loop; a fixed bearer token instead of the Variable store, and
checkpoints in memory, saved after every chunk as the operator's Variables are), with 4 MiB chunks, and reports
the wall time, the bytes the stand-in received and the peak RSS growth (VmHWM, reset before the upload). Each
run's stand-in checks every chunk's MD5 and the assembled file's; its upload directory is emptied between runs.

Run: ``.venv/bin/python -m benchmarks.upload_multipart [--size-mib 2048] [--latency 0.05]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import StandInProcess, run_worker, write_json
from benchmarks.search_memory import _reset_peak, _status_kb

TOKEN = "bench-upload-bearer-token"
CONCURRENCY = (1, 4, 8)
CHUNK_SIZE = 32 * 131072  # the operator's default, 4 MiB
LATENCY = 0.05


def worker(args: argparse.Namespace) -> dict[str, Any]:
    from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
    from airflow_provider_orangelogic.api.upload_parts import MemoryCheckpoints, UploadSource
    from airflow_provider_orangelogic.api.uploads import upload_files
    from airflow_provider_orangelogic.core.retry import RetryPolicy

    session = new_session(FixedToken(TOKEN), base_url=args.url)
    policy = RetryPolicy()

    def request(method: str, endpoint: str, *, check_response: bool = True, **kwargs: Any) -> Any:
        response = send_with_retries(session, method, args.url + endpoint, retry=policy, timeout=60, **kwargs)
        if check_response:
            response.raise_for_status()
        return response

    path = Path(args.file)
    size = path.stat().st_size
    source = UploadSource(path.name, size, lambda: path.open("rb"), key=str(path), location=str(path))
    checkpoints = MemoryCheckpoints()
    gc.collect()
    reset = _reset_peak()
    baseline_kb = _status_kb("VmRSS") or 0
    start = time.perf_counter()
    (result,) = upload_files(
        request,
        [source],
        folder_record_id="1",
        multipart_threshold=1,
        chunk_size=args.chunk_size,
        concurrency=args.concurrency,
        checkpoints=checkpoints,
        fail_fast=True,
    )
    elapsed = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM") if reset else None
    return {
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "status": result.status,
        "chunks": result.chunks,
        "bytes": size,
        "checkpoint_saves": checkpoints.saves,
        "rss_growth_mib": ((peak_kb or 0) - baseline_kb) / 1024 if peak_kb else None,
    }


def run(size_mib: int, latency: float, concurrency: Sequence[int], chunk_size: int) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="ol-bench-upload-"))
    big = directory / "master.bin"
    block = os.urandom(1 << 20)
    with big.open("wb") as out:
        for n in range(size_mib):
            out.write(block[n % 997 :] + block[: n % 997])  # no two MiB alike
    rows = []
    try:
        with StandInProcess(max_runtime=3600) as stand_in:
            stand_in.configure(bearer_tokens=[TOKEN], data_latency=latency)
            for level in concurrency:
                stand_in.reset()  # forgets (and deletes) the previous run's upload
                args = ["--worker", "--url", stand_in.url, "--file", str(big)]
                args += ["--concurrency", str(level), "--chunk-size", str(chunk_size)]
                row = run_worker("upload_multipart", args, timeout=3600)
                counters = stand_in.counters()
                row["received_bytes"] = counters["chunk_bytes"]
                row["rejected_chunks"] = counters["chunks_rejected"]
                rows.append(row)
                print(_line(row, rows[0]), flush=True)
    finally:
        big.unlink(missing_ok=True)
        directory.rmdir()
    return {"size_mib": size_mib, "latency_s": latency, "chunk_size": chunk_size, "rows": rows}


def _line(row: dict[str, Any], baseline: dict[str, Any]) -> str:
    mib_s = row["bytes"] / (1 << 20) / row["seconds"]
    ratio = baseline["seconds"] / row["seconds"]
    rss = row["rss_growth_mib"]
    return (
        f"concurrency {row['concurrency']}: {row['seconds']:7.1f} s  {mib_s:7.1f} MiB/s  "
        f"x{ratio:4.2f} vs concurrency {baseline['concurrency']}  peak RSS growth "
        f"{'n/a' if rss is None else f'{rss:.1f} MiB'}  {row['chunks']} chunks, {row['status']}, "
        f"{row['received_bytes']} bytes received, {row['rejected_chunks']} rejected"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(CONCURRENCY))
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.worker:
        args.concurrency = args.concurrency[0]
        write_json(Path(args.out), worker(args))
        return 0
    print(
        f"Multi-part upload of {args.size_mib} MiB in {args.chunk_size // 1024} KiB chunks, "
        f"{args.latency * 1000:.0f} ms per request at the stand-in:"
    )
    result = run(args.size_mib, args.latency, args.concurrency, args.chunk_size)
    if args.out:
        write_json(Path(args.out), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
