"""Videos per hour on one device, through the real worker (decode, enhance, encode, verify, store).

The reference workload: synthetic phone clips (a moving test pattern with a tone: H.264 + AAC),
30 s at 30 fps, 1920x1080; each enhanced on the CREATOR plan (1080p output; the model reads
480x272) and on the FREE plan (720p output; 320x180). For each N
in ``--streams`` a worker with ``VE_WORKER_GPU_STREAMS=N`` (N jobs at once, batched through one
model thread; a job alone splits into lanes) is handed ``--videos`` queued jobs; the figure is
videos per hour = videos / wall time of the whole batch x 3600, model load excluded.

    python benchmarks/throughput.py --model /models/stream-diffvsr --flow-weights raft.pth \
        --device cuda --dtype float16 --streams 1,4,8,16 --videos 16
    python benchmarks/throughput.py --tiny      # CPU, tiny random model, 2 s clips: a few minutes

``--tiny`` keeps the shape of the workload at a size a CPU runs: 64x36 clips of 2 s at 4 fps,
CREATOR capped at 144 lines (the model reads 64x36) and FREE at 128 (56x32), a tiny random
checkpoint and RAFT-large with random weights, and the fidelity floor off (random weights
make noise).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import imageio_ffmpeg  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from video_enhancer.billing.plans import limits_for  # noqa: E402
from video_enhancer.config import Settings  # noqa: E402
from video_enhancer.db import make_engine, make_session_factory  # noqa: E402
from video_enhancer.jobs.lifecycle import enqueue_job  # noqa: E402
from video_enhancer.models import Job, JobStatus, Plan, User, Video, utcnow  # noqa: E402
from video_enhancer.storage.local import LocalStorage  # noqa: E402
from video_enhancer.worker.process import WorkerProcess, load_enhancer  # noqa: E402


@dataclass(frozen=True)
class Workload:
    width: int
    height: int
    fps: int
    seconds: float
    heights: dict[Plan, int]
    """Output height cap per plan (the plans' own unless ``--tiny``)."""


REFERENCE = Workload(1920, 1080, 30, 30.0, {Plan.CREATOR: 1080, Plan.FREE: 720})
TINY = Workload(64, 36, 4, 2.0, {Plan.CREATOR: 144, Plan.FREE: 128})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny model, tiny clips")
    parser.add_argument("--model", type=Path, help="Stream-DiffVSR checkpoint folder")
    parser.add_argument("--flow-weights", type=Path, help="RAFT-large weights file")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--compile", default="off", help="VE_MODEL_COMPILE")
    parser.add_argument("--flow-scale", type=float, default=1.0)
    parser.add_argument("--streams", default="1,4,8,16", help="VE_WORKER_GPU_STREAMS values")
    parser.add_argument("--videos", type=int, default=16, help="videos per plan and stream count")
    parser.add_argument("--plans", default="CREATOR,FREE")
    parser.add_argument("--preset", default="veryfast", help="encoder preset")
    parser.add_argument("--encoder-priority", default="speed", help="VE_ENCODER_PRIORITY")
    return parser.parse_args()


def make_clip(path: Path, workload: Workload) -> Path:
    """A phone-like clip: moving pattern and a tone, H.264 + AAC in MP4."""
    import subprocess

    size = f"{workload.width}x{workload.height}"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={workload.fps}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(workload.seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    command.upgrade(config, "head")


def queue_jobs(settings: Settings, clip: Path, plan: Plan, count: int, max_height: int) -> None:
    """``count`` users of ``plan``, each with the clip uploaded and its job QUEUED."""
    storage = LocalStorage.from_settings(settings)
    engine = make_engine(settings.database_url, pool_size=1)
    limits = limits_for(plan)
    with make_session_factory(engine)() as session:
        for n in range(count):
            user = User(email=f"bench-{time.monotonic_ns()}-{n}@example.com", password_hash="-", plan=plan)
            session.add(user)
            session.flush()
            video = Video(
                user_id=user.id,
                original_filename="phone.mp4",
                content_type="video/mp4",
                size_bytes=clip.stat().st_size,
                claimed_duration_seconds=min(30.0, limits.max_duration_seconds),
                storage_path=f"users/{user.id}/videos/{n}/source.mp4",
                upload_expires_at=utcnow() + timedelta(hours=1),
            )
            session.add(video)
            session.flush()
            storage.put_file("raw", video.storage_path, clip)
            job = Job(
                user_id=user.id,
                video_id=video.id,
                status=JobStatus.UPLOADED,
                priority=limits.queue_priority,
                minutes_held=1,
                max_duration_seconds=limits.max_duration_seconds,
                max_output_height=max_height,
                max_attempts=1,
                request_id=f"bench-{n}",
            )
            session.add(job)
            session.flush()
            enqueue_job(session, job, settings)
        session.commit()
    engine.dispose()


def run_batch(settings: Settings, count: int) -> tuple[float, int]:
    """Start a worker, wait until ``count`` jobs ended; wall seconds and completed jobs."""
    enhancer = load_enhancer(settings)  # loading the model is not timed
    worker = WorkerProcess(settings, concurrency=settings.job_slots, enhancer=enhancer)
    engine = make_engine(settings.database_url, pool_size=1)
    factory = make_session_factory(engine)
    started = time.monotonic()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    ended = (JobStatus.COMPLETED, JobStatus.FAILED)
    while True:
        with factory() as session:
            done = session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(ended))) or 0
            completed = session.scalar(
                select(func.count()).select_from(Job).where(Job.status == JobStatus.COMPLETED)
            )
        if done >= count:
            break
        time.sleep(0.2)
    wall = time.monotonic() - started
    worker.stop()
    thread.join()
    engine_close = getattr(enhancer, "engine", None)
    if engine_close is not None:
        engine_close.close()
    engine.dispose()
    return wall, int(completed or 0)


def settings_for(args: argparse.Namespace, root: Path, streams: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=f"sqlite:///{root / 'bench.db'}",
        storage_root=root / "storage",
        worker_scratch_dir=root / "scratch",
        dev_secrets_file=root / "secrets.json",
        enhancer="stream-diffvsr",
        model_path=args.model,
        flow_weights=args.flow_weights,
        model_device=args.device,
        model_dtype=args.dtype,
        model_compile=args.compile,
        flow_scale=args.flow_scale,
        worker_gpu_streams=streams,
        encoder_preset=args.preset,
        encoder_priority=args.encoder_priority,
        worker_metrics_port=-1,
        queue_poll_seconds=0.1,
        output_min_psnr_db=0.0 if args.tiny else 15.0,
        output_min_ssim=-1.0 if args.tiny else 0.2,
        segment_seconds=1.0 if args.tiny else 4.0,
    )


def main() -> None:
    args = parse_args()
    workload = TINY if args.tiny else REFERENCE
    with tempfile.TemporaryDirectory(prefix="throughput-") as scratch:
        root = Path(scratch)
        if args.tiny:
            import torch

            from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint

            torch.set_num_threads(1)
            args.model = write_tiny_checkpoint(root / "tiny")
            args.flow_weights = write_random_raft_weights(root / "raft.pth")
            args.device, args.dtype = "cpu", "float32"
        if args.model is None:
            raise SystemExit("--model DIR is needed (or --tiny)")
        clip = make_clip(root / "phone.mp4", workload)
        rows = []
        for streams in (int(s) for s in args.streams.split(",")):
            for plan in (Plan(p) for p in args.plans.split(",")):
                run_root = root / f"run-{streams}-{plan}"
                run_root.mkdir()
                settings = settings_for(args, run_root, streams)
                migrate(settings.database_url)
                queue_jobs(settings, clip, plan, args.videos, workload.heights[plan])
                wall, completed = run_batch(settings, args.videos)
                rows.append((plan, workload.heights[plan], streams, completed, wall))
                print(format_row(rows[-1], workload), flush=True)
    print(
        f"\n{workload.seconds:g} s clips at {workload.fps} fps, {workload.width}x{workload.height}; "
        f"{args.videos} videos per row, model {'tiny (CPU)' if args.tiny else args.model} on {args.device}"
    )
    print("| plan | output height | streams | completed | wall s | videos/hour | output frames/s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(format_row(row, workload))


def format_row(row: tuple[Plan, int, int, int, float], workload: Workload) -> str:
    plan, height, streams, completed, wall = row
    frames = completed * workload.fps * workload.seconds
    return (
        f"| {plan} | {height} | {streams} | {completed} | {wall:.1f} | {completed / wall * 3600:.1f} "
        f"| {frames / wall:.2f} |"
    )


if __name__ == "__main__":
    main()
