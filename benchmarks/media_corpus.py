"""Run the quirks corpus (tests/media/corpus.py) through the pipeline and print one row per clip.

    PYTHONPATH=src python benchmarks/media_corpus.py [NAME ...]

Each clip is generated with FFmpeg, enhanced with the Lanczos enhancer (ultrafast preset, short
side 144 px), verified by the service and read back independently. The outcome column is OK,
the error code the service refused it with, or WRONG with what differs from the expected output.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media.corpus import BY_NAME, CORPUS, CorpusClip, problems, read_output
from video_enhancer.media.errors import MediaError
from video_enhancer.media.local import enhance_file


def outcome(clip: CorpusClip, directory: Path) -> str:
    try:
        source = clip.make(directory)
    except RuntimeError as exc:
        return f"NOT GENERATED: {str(exc).splitlines()[-1][:120]}"
    output = directory / f"{clip.name}-out.mp4"
    try:
        enhance_file(source, output, max_height=144, preset="ultrafast", segment_seconds=0.5)
    except MediaError as exc:
        verdict = "as expected" if exc.code == clip.expect.error else f"expected {clip.expect.error or 'OK'}"
        return f"{exc.code} ({verdict}): {str(exc)[:110]}"
    if clip.expect.error is not None:
        return f"WRONG: enhanced, expected {clip.expect.error}"
    facts = read_output(output)
    found = problems(facts, clip.expect)
    audio = facts.audio_s is not None
    summary = f"{facts.width}x{facts.height} {facts.frames}f {facts.duration_s:.2f}s audio={audio}"
    return f"WRONG {summary}: {'; '.join(found)}" if found else f"OK {summary}"


def main(names: list[str]) -> None:
    clips = [BY_NAME[name] for name in names] if names else list(CORPUS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        for clip in clips:
            print(f"| {clip.name} | {outcome(clip, Path(directory))} |", flush=True)
    print(f"{len(clips)} clips in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
