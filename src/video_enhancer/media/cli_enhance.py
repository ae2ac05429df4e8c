"""``video-enhancer enhance INPUT -o OUTPUT``: the pipeline on a local file, with a progress bar."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from video_enhancer.enhancers.registry import enhancer_names, get_enhancer_spec
from video_enhancer.errors import AppError
from video_enhancer.media.errors import MediaError, PipelineStopped
from video_enhancer.media.local import enhance_file
from video_enhancer.media.pipeline import Progress

BAR_WIDTH = 30


def add_enhance_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "enhance", help="Enhance a local video file (no server needed)."
    )
    parser.add_argument("input", help="video to enhance")
    parser.add_argument("-o", "--output", required=True, help="where to write the enhanced MP4")
    parser.add_argument("--model", choices=enhancer_names(), default="lanczos")
    parser.add_argument("--scale", type=float, default=4.0, help="upscaling factor cap (default 4)")
    parser.add_argument("--max-height", type=int, default=1080, help="output height limit (default 1080)")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--preset", default="slow")
    parser.add_argument("--encoder", default="libx264", help="libx264 or h264_nvenc")
    parser.add_argument("--segment-seconds", type=float, default=4.0)
    parser.add_argument(
        "--deinterlace",
        choices=["field", "frame"],
        default="field",
        help="interlaced input: one frame per field (default, 50/60p) or per frame",
    )
    parser.add_argument("--checkpoint-dir", help="keep finished segments here; a rerun resumes from them")
    model = parser.add_argument_group("stream-diffvsr (defaults: the VE_MODEL_* settings)")
    model.add_argument("--weights", help="checkpoint folder or hub id (VE_MODEL_PATH / VE_MODEL_ID)")
    model.add_argument("--flow-weights", help="RAFT-large state dict file (VE_FLOW_WEIGHTS)")
    model.add_argument("--device", help="auto, cpu or cuda (VE_MODEL_DEVICE)")
    model.add_argument("--dtype", help="float32, float16 or bfloat16 (VE_MODEL_DTYPE)")
    parser.set_defaults(handler=enhance_command)
    return parser


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor arguments of the chosen enhancer: flags first, then the VE_MODEL_* settings."""
    if args.model != "stream-diffvsr":
        return {}
    from video_enhancer.config import get_settings

    flags = {"flow_weights": args.flow_weights, "model_device": args.device, "model_dtype": args.dtype}
    overrides: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    if args.weights is not None:  # a folder, else a hub id; it replaces both settings
        is_folder = Path(args.weights).is_dir()
        overrides["model_path"] = Path(args.weights) if is_folder else None
        overrides["model_id"] = None if is_folder else args.weights
    return get_settings().model_copy(update=overrides).stream_diffvsr_options()


def enhance_command(args: argparse.Namespace) -> int:
    """Run the enhance command; returns the process exit status."""
    bar = ProgressBar(sys.stderr)
    interrupt = _Interrupt(resumable=args.checkpoint_dir is not None)
    try:
        with interrupt.installed():
            result = enhance_file(
                args.input,
                args.output,
                model=args.model,
                max_height=args.max_height,
                scale=args.scale,
                crf=args.crf,
                preset=args.preset,
                encoder=args.encoder,
                segment_seconds=args.segment_seconds,
                deinterlace=args.deinterlace,
                checkpoint_dir=args.checkpoint_dir,
                enhancer_options=model_options(args),
                progress=bar.update,
                should_stop=interrupt.requested,
            )
    except PipelineStopped:
        bar.finish()
        print(
            f"stopped: the finished segments are in {args.checkpoint_dir}; run again to resume",
            file=sys.stderr,
        )
        return interrupt.exit_status()
    except KeyboardInterrupt:
        bar.finish()
        print("interrupted: nothing was written", file=sys.stderr)
        return interrupt.exit_status()
    except (MediaError, AppError) as exc:
        bar.finish()
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    bar.finish()
    width, height = result.pipeline.sizes.output
    label = " (classical fallback)" if get_enhancer_spec(args.model).classical else ""
    print(
        f"{args.output}: {width}x{height}, {result.pipeline.frames} frames, "
        f"enhancer {result.pipeline.enhancer}{label}"
    )
    return 0


class _Interrupt:
    """SIGINT and SIGTERM during a run: stop cleanly, leaving no partial output or scratch files.

    With a checkpoint folder the first signal stops after the current segment, whose piece is
    kept for a rerun to resume from; a second signal, or any signal without a checkpoint folder,
    aborts at once. Either way the pipeline unwinds and removes its scratch folder.
    """

    def __init__(self, resumable: bool) -> None:
        self._resumable = resumable
        self._signal: int | None = None

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self._handle) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self._signal is None
        self._signal = signum
        if first and self._resumable:
            print("\nstopping after the current segment (signal again to abort)", file=sys.stderr)
            return
        raise KeyboardInterrupt

    def requested(self) -> bool:
        return self._signal is not None

    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + (self._signal or signal.SIGINT)


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def update(self, progress: Progress) -> None:
        filled = int(BAR_WIDTH * progress.percent / 100)
        eta = f"{progress.eta_s:.0f}s" if progress.eta_s is not None else "?"
        self._stream.write(
            f"\r{progress.stage:<10} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.percent:5.1f}% "
            f"{progress.frames_done}/{progress.frames_total} frames {progress.fps:.1f} fps eta {eta} "
        )
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
