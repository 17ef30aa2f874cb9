"""The last warnings and errors of this process, kept in memory for the console's health page."""
from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

KEEP = 200


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: str
    logger: str
    message: str


class RecentLogs(logging.Handler):
    """A ring buffer: WARNING and above, newest last; the oldest fall out (no disk, no growth)."""

    def __init__(self, keep: int = KEEP, level: int = logging.WARNING):
        super().__init__(level)
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message += f" ({record.exc_info[0].__name__}: {record.exc_info[1]})"
            self._lines.append(LogLine(datetime.fromtimestamp(record.created, timezone.utc), record.levelname,
                                       record.name, message[:2000]))
        except Exception:   # a log handler must never break the code that logs
            self.handleError(record)

    def lines(self, prefix: str = "", limit: int = 50) -> list[LogLine]:
        """Newest first; `prefix` keeps one part's loggers ("adapters.telegram")."""
        found = [line for line in reversed(self._lines) if line.logger.startswith(prefix)]
        return found[:limit]


def attach(logger: logging.Logger | None = None) -> tuple[RecentLogs, callable]:
    """Start keeping the root logger's warnings; returns the buffer and a function that stops it."""
    target = logger or logging.getLogger()
    handler = RecentLogs()
    target.addHandler(handler)
    return handler, lambda: target.removeHandler(handler)
