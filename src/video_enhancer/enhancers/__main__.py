"""`python -m video_enhancer.enhancers`: the enhancer the settings select, and why, in one line.

`make run` prints it beside what it installed. Nothing here imports torch.
"""

from __future__ import annotations

from video_enhancer.config import get_settings


def main() -> None:
    print(get_settings().enhancer_choice().describe())


if __name__ == "__main__":
    main()
