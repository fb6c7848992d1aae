"""The digest picture drawn in a short-lived process of its own (issue 11: the bot's memory).

matplotlib costs a process ≈40 MB of resident memory once imported (and ≈0.6 s to import), and a
bot that has drawn one picture keeps that for good; the weekly digest of a large programme must leave
`klinik run` within its memory budget. So the bot hands the chart's plain figures (render.chart_figures,
JSON) to `python -m handlers.reports.chart_process PATH LANGUAGE` and waits for the file: the child
imports matplotlib, draws exactly what render.write_chart draws, and exits, giving its memory back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 300


def draw_digest(data: dict[str, Any], path: Path, language: str) -> None:
    """Write the digest PNG for `data` at `path` in a child process (blocking: run it in a worker thread)."""
    done = subprocess.run([sys.executable, "-m", __name__, str(path), language],
                          input=json.dumps(data).encode("utf-8"), capture_output=True, timeout=TIMEOUT_SECONDS,
                          check=False)
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"the chart process failed (exit {done.returncode}): {error}")


def main() -> None:
    """The child: figures on stdin, the PNG at argv[1] in the language argv[2]."""
    from handlers.reports.charts import digest_figure, save_png

    data = json.loads(sys.stdin.buffer.read())
    language = sys.argv[2]
    save_png(digest_figure(data, language), data, Path(sys.argv[1]))


if __name__ == "__main__":
    main()
