"""The digest picture drawn in a short-lived process of its own (issue 11: the bot's memory).

matplotlib costs a process ≈40 MB of resident memory once imported (and ≈0.6 s to import), and a
bot that has drawn one picture keeps that for good; the weekly digest of a large programme must leave
`klinik run` within its memory budget. So the bot starts `python -m handlers.reports.chart_process`
(a Painter) as the digest begins: the child imports matplotlib while the digest's figures are computed,
then reads the chart's plain figures (render.chart_figures, JSON) on stdin, draws exactly what
render.write_chart draws, and exits, giving its memory back. Closed unfed, it draws nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 300


class Painter:
    """A chart process started ahead of the figures it will draw; draw() once, close() always."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def draw(self, data: dict[str, Any], path: Path, language: str) -> None:
        """Write the digest PNG for `data` at `path` (blocking: run it in a worker thread)."""
        request = json.dumps({"path": str(path), "language": language, "data": data}).encode("utf-8")
        _, error = self.process.communicate(request, timeout=TIMEOUT_SECONDS)
        if self.process.returncode != 0:
            raise RuntimeError(f"the chart process failed (exit {self.process.returncode}): "
                               f"{error.decode('utf-8', errors='replace')[-2000:]}")

    def close(self) -> None:
        """Stop the process if it was never fed (or hangs), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        for pipe in (self.process.stdin, self.process.stderr):
            if pipe is not None:
                pipe.close()
        self.process.wait()


def main() -> None:
    """The child: matplotlib imported and warmed up first, then {"path", "language", "data"} on stdin."""
    from matplotlib.figure import Figure

    from handlers.reports.charts import digest_figure, save_png

    Figure(figsize=(1, 1)).savefig(BytesIO(), format="png")  # fonts and the Agg canvas loaded ahead
    request = sys.stdin.buffer.read()
    if not request:
        return  # closed unfed: the digest had no picture to draw
    job = json.loads(request)
    save_png(digest_figure(job["data"], job["language"]), job["data"], Path(job["path"]))


if __name__ == "__main__":
    main()
