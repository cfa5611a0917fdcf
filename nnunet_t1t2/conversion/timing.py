"""Time per conversion stage, wall-clock and CPU: the CPU seconds (all threads of the process)
say what a stage costs even on a machine busy with other work, where wall-clock times stretch."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageClock:
    wall: Counter = field(default_factory=Counter)
    cpu: Counter = field(default_factory=Counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.process_time() - cpu
