"""A progress bar fed by TensorRT's IProgressMonitor: one line on a terminal, redrawn in place, showing
the phases TensorRT is in (outermost first) and the innermost phase's step count."""

from __future__ import annotations

import sys
import time


def make_progress(trt, stream=None):
    """An IProgressMonitor for ``trt`` that draws on ``stream`` (default stderr)."""
    stream = stream or sys.stderr

    class Progress(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.phases: list[list] = []  # [name, step, steps]
            self.last = 0.0
            self.width = 0

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.phases.append([phase_name, 0, num_steps])
            self.draw()

        def step_complete(self, phase_name, step):
            for phase in self.phases:
                if phase[0] == phase_name:
                    phase[1] = step + 1
            self.draw()
            return True  # go on

        def phase_finish(self, phase_name):
            self.phases = [p for p in self.phases if p[0] != phase_name]
            self.draw(force=not self.phases)
            if not self.phases:
                stream.write("\r" + " " * self.width + "\r")
                stream.flush()

        def draw(self, force: bool = False):
            now = time.monotonic()
            if not force and now - self.last < 0.1:
                return
            self.last = now
            if not self.phases:
                return
            name, step, steps = self.phases[-1]
            filled = int(20 * step / steps) if steps else 0
            path = " > ".join(p[0] for p in self.phases)[-60:]
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {step}/{steps} {path}"
            self.width = max(self.width, len(line))
            stream.write("\r" + line.ljust(self.width))
            stream.flush()

    return Progress()
