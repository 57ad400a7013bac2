"""Progress lines shared by every long-running tool: count, rate and ETA.

One format everywhere::

    [what] 120/1000 steps  3.20 steps/s  ETA 0:04:35  elbo 1234.5, kl 12.1

``total=None`` (an open-ended job) drops the ``/total`` and the ETA. The rate
is measured from the moment the ``Progress`` is made (or from ``start``), so
make it just before the loop: start-up work before it does not count.
"""
import math
import sys
import time


def format_duration(seconds):
    """``h:mm:ss`` of a number of seconds; ``?`` when unknown or infinite."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_rate(rate):
    """Three significant digits below 1000 (``0.958``, ``13.2``), whole numbers above (``1490``)."""
    return f"{rate:.3g}" if abs(rate) < 1000 else f"{rate:.0f}"


def progress_line(what, done, total, unit, rate, eta_seconds=None, extra=""):
    """The one progress format: ``[what] done/total unit  rate unit/s  ETA h:mm:ss  extra``."""
    count = f"{done}/{total}" if total is not None else f"{done}"
    line = f"[{what}] {count} {unit}  {format_rate(rate)} {unit}/s"
    if total is not None or eta_seconds is not None:
        line += f"  ETA {format_duration(eta_seconds)}"
    return line + (f"  {extra}" if extra else "")


class Progress:
    """Reports progress of ``total`` units of work at most every ``every`` seconds.

    ``log`` receives each line (default: stderr). ``update(done, extra)`` with
    the number of units done so far; the last unit is always reported.
    """

    def __init__(self, what, total=None, unit="items", every=5.0, log=None, start=None):
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.start = time.monotonic() if start is None else start
        self.last = None

    def rate(self, done):
        """Units per second since ``start``."""
        return done / max(time.monotonic() - self.start, 1e-9)

    def update(self, done, extra="", force=False):
        """Log a line if ``every`` seconds passed, the work is complete, or ``force``."""
        now = time.monotonic()
        finished = self.total is not None and done >= self.total
        if not (force or finished or self.last is None or now - self.last >= self.every):
            return None
        self.last = now
        rate = self.rate(done)
        eta = (self.total - done) / rate if self.total is not None and rate > 0 else None
        line = progress_line(self.what, done, self.total, self.unit, rate, eta, extra)
        self.log(line)
        return line
