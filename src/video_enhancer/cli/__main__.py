"""`python -m video_enhancer.cli`: what the `video-enhancer` script runs (used by `run` for its worker)."""

import sys

from video_enhancer.cli import main

sys.exit(main())
