"""``video-enhancer enhance INPUT -o OUTPUT``: the pipeline on a local file, with a progress bar.

Flags default to `ENHANCE_DEFAULTS`; the Stream-DiffVSR flags override the `VE_MODEL_*` settings
through one `StreamDiffVSROptions`. The media library is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, get_args

from video_enhancer.enhance_options import ENHANCE_DEFAULTS, ModelDtype, StreamDiffVSROptions
from video_enhancer.enhancers.registry import enhancer_names, get_enhancer_spec
from video_enhancer.enhancers.weights import PUBLISHED_WEIGHTS
from video_enhancer.errors import ServiceError

if TYPE_CHECKING:
    from video_enhancer.media.pipeline import Progress

BAR_WIDTH = 30


def register(subparsers: Any) -> None:
    add_enhance_parser(subparsers)


def add_enhance_parser(subparsers: Any) -> argparse.ArgumentParser:
    defaults = ENHANCE_DEFAULTS
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "enhance", help="Enhance a local video file (no server needed)."
    )
    parser.add_argument("input", help="video to enhance")
    parser.add_argument("-o", "--output", required=True, help="where to write the enhanced MP4")
    parser.add_argument("--model", choices=enhancer_names(), default="lanczos")
    parser.add_argument(
        "--scale", type=float, default=defaults.scale, help="upscaling factor cap (%(default)g)"
    )
    parser.add_argument(
        "--max-height", type=int, default=defaults.max_height, help="output height limit (%(default)s)"
    )
    parser.add_argument(
        "--crf", type=int, default=defaults.crf, help="quality, lower is better (%(default)s)"
    )
    parser.add_argument("--preset", default=defaults.preset, help="encoder preset (%(default)s)")
    parser.add_argument("--encoder", default=defaults.encoder, help="libx264 or h264_nvenc (%(default)s)")
    parser.add_argument(
        "--segment-seconds", type=float, default=defaults.segment_seconds, help="unit of resume (%(default)g)"
    )
    parser.add_argument(
        "--deinterlace",
        choices=["field", "frame"],
        default="field",
        help="interlaced input: one frame per field (default, 50/60p) or per frame",
    )
    parser.add_argument("--checkpoint-dir", help="keep finished segments here; a rerun resumes from them")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="only a short before/after preview: OUT.before.mp4, OUT.after.mp4, OUT.compare.jpg",
    )
    parser.add_argument(
        "--start", type=float, help="preview start in seconds (default: where the video has most detail)"
    )
    parser.add_argument("--preview-seconds", type=float, default=3.0, help="preview length (%(default)g)")
    model = parser.add_argument_group("model weights and device (defaults: the VE_MODEL_* settings)")
    model.add_argument(
        "--weights",
        help="stream-diffvsr: checkpoint folder or hub id (VE_MODEL_PATH / VE_MODEL_ID); "
        "Real-ESRGAN: the .pth file (default: its published name in VE_MODELS_DIR)",
    )
    model.add_argument("--flow-weights", help="RAFT-large state dict file (VE_FLOW_WEIGHTS)")
    model.add_argument("--device", help="auto, cpu or cuda (VE_MODEL_DEVICE)")
    model.add_argument("--dtype", choices=get_args(ModelDtype), help="model precision (VE_MODEL_DTYPE)")
    parser.set_defaults(handler=enhance_command)
    return parser


def stream_diffvsr_options(args: argparse.Namespace) -> StreamDiffVSROptions:
    """The `VE_MODEL_*` settings with the command's flags over them."""
    from video_enhancer.config import get_settings

    options = get_settings().stream_diffvsr_options()
    if args.weights is not None:  # a folder, else a hub id; it replaces both settings
        options = options.with_weights(args.weights)
    if args.flow_weights is not None:
        options = replace(options, flow_weights=Path(args.flow_weights))
    if args.device is not None:
        options = replace(options, device=args.device)
    if args.dtype is not None:
        options = replace(options, dtype=args.dtype)
    return options


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor arguments of the chosen enhancer (lanczos takes none)."""
    if args.model in PUBLISHED_WEIGHTS:
        return realesrgan_options(args)
    if args.model != "stream-diffvsr":
        return {}
    return stream_diffvsr_options(args).constructor_kwargs()


def realesrgan_options(args: argparse.Namespace) -> dict[str, Any]:
    """The settings' weights file, device and tile with the command's flags over them."""
    from video_enhancer.config import get_settings

    options = get_settings().realesrgan_options(args.model)
    if args.weights is not None:
        options["weights"] = Path(args.weights)
    if args.device is not None:
        options["device"] = args.device
    return options


def enhance_command(args: argparse.Namespace) -> int:
    """Run the enhance command; returns the process exit status."""
    from video_enhancer.media.errors import PipelineStopped
    from video_enhancer.media.local import enhance_file

    if args.preview:
        return preview_command(args)
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
    except ServiceError as exc:
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


def preview_command(args: argparse.Namespace) -> int:
    """``enhance --preview``: the three preview files and the span's fidelity figures."""
    from video_enhancer.media.local import preview_file

    try:
        result = preview_file(args, model_options(args))
    except ServiceError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    fidelity = result.fidelity
    for path in (result.files.before, result.files.after, result.files.compare):
        print(path)
    print(
        f"span {result.start_s:.2f}s +{result.seconds:.2f}s, enhancer {result.pipeline.enhancer}, "
        f"PSNR {fidelity.psnr_db:.2f} dB, SSIM {fidelity.ssim:.4f} at the source size"
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
