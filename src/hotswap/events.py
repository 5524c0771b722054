"""The event stream of automatic reloads: lines for people, JSON for tools.

The core never words a message.  It hands each event of an automatic
reload (the watcher's pending call, ``poll()``) to a sink as a dict (see
"events" in csrc/safepoint.c)::

    {"event": "applied", "report": Report}
    {"event": "failed", "error": ReloadError, "report": Report | None}
    {"event": "world_writable", "filename": str}
    {"event": "hook_failed", "hook": callable, "error": exception}
    {"event": "still_blocked", "error": ReloadError}

The sink is the one set with ``hotswap._core.set_log_sink(fn)`` -- the CLI's
:class:`Output` -- or, without one, :func:`to_logger`, which words the
events for the ``hotswap`` logger.  :func:`message` is the one wording of
an event; :func:`report_event` the JSON object of one reload (``--events``).
"""
import json
import logging
import os
import sys
import time
import traceback


__all__ = ["Output", "ensure_handler", "message", "report_event",
           "to_logger"]

LOGGER = "hotswap"


# ---------------------------------------------------------------------------
# wording an event


def failure_text(error):
    """A failed reload: the ReloadError's message and the traceback of its
    cause (the user's exception)."""
    cause = error.__cause__
    if cause is None:
        return str(error)
    try:
        tb = "".join(traceback.format_exception(type(cause), cause,
                                                cause.__traceback__))
    except Exception:
        return str(error)
    return f"{error}\n{tb}"


def message(event):
    """The text of one event of the core (without the ``hotswap: ``
    prefix of a warning)."""
    kind = event["event"]
    if kind == "applied":
        return str(event["report"])
    if kind == "failed":
        return failure_text(event["error"])
    if kind == "world_writable":
        return (f"not reloading {event['filename']}: the file is "
                f"world-writable (anyone could inject code into this "
                f"process); pass allow_world_writable=True to watch() to "
                f"allow it")
    if kind == "hook_failed":
        return f"hook {event['hook']!r} raised {event['error']}"
    if kind == "still_blocked":
        return (f"{event['error']} (retried with this batch: still kept "
                f"its old code)")
    return f"{kind}: {event}"


def _worth_a_line(report):
    """An applied batch is said when it changed something, or when an
    entry carries a code (kept or rejected)."""
    return bool(report.changed) or any(c.code is not None
                                       for c in report.entries)


# ---------------------------------------------------------------------------
# without a sink: the "hotswap" logger


def to_logger(event):
    """The default sink: one INFO line per applied batch that changed
    something, one WARNING per failure or warning."""
    logger = logging.getLogger(LOGGER)
    if event["event"] == "applied":
        if _worth_a_line(event["report"]):
            logger.info(message(event))
        return
    text = message(event)
    if event["event"] != "failed":
        text = "hotswap: " + text
    logger.warning(text)


def ensure_handler():
    """``watch()`` without a sink: an application that configured logging
    routes the lines; one that did not still sees them on stderr."""
    logger = logging.getLogger(LOGGER)
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


# ---------------------------------------------------------------------------
# the CLI's own channel
#
# The program may do anything to the logging tree (logging.config.dictConfig
# closes every handler and, by default, disables every existing logger:
# uvicorn and Django do it at start-up).  So the CLI does not log: it takes
# the core's events (``_core.set_log_sink``) and every reload's Report
# (``after_reload``), and writes them to a duplicate of the stderr
# descriptor taken at start-up, and the events to a file it opened itself.
# Nothing the program does to ``logging`` or ``sys.stderr`` reaches them.


def _change_dict(c):
    return {f: getattr(c, f) for f in ("module", "name", "kind", "action",
                                       "code", "reason", "filename",
                                       "lineno")}


def _error_dict(exc):
    cause = exc.__cause__
    return {
        "code": getattr(exc, "code", None),
        "message": str(exc),
        "type": type(cause).__name__ if cause is not None else None,
        "module": getattr(exc, "module", None),
        "filename": getattr(exc, "filename", None),
        "lineno": getattr(exc, "lineno", None),
    }


def report_event(report, error=None):
    """The event-stream object for one reload.

    ``report`` is a Report (or None); ``error`` a ReloadError, or a dict of
    error fields, or None.
    """
    if isinstance(error, BaseException):
        if report is None:
            report = getattr(error, "report", None)
        summary = str(error)
        error = _error_dict(error)
    else:
        summary = error["message"] if error else str(report)
    entries = tuple(report.entries) if report is not None else ()
    if error is not None or (report is not None and not report.ok):
        kind = "failed"
    elif any(c.action == "rejected" for c in entries):
        kind = "rejected"
    else:
        kind = "applied"
    if kind == "failed" and report is not None:
        mods = [m.name for m in report.modules if m.status == "failed"]
    else:
        mods = [m.name for m in report.modules
                if m.status != "unchanged"] if report is not None else []
    if not mods and error and error.get("module"):
        mods = [error["module"]]
    return {
        "event": kind,
        "time": time.time(),
        "modules": mods,
        "changes": [_change_dict(c) for c in entries if c.code != "HS301"],
        "stale": [_change_dict(c) for c in entries if c.code == "HS301"],
        "error": error,
        "summary": summary,
        "seconds": report.seconds if report is not None else None,
    }


_CHANGE_ACTIONS = ("updated", "added", "removed", "moved", "replaced")


# The UTC offset of the local time when the CLI started.  Reload lines are
# stamped with it, not with time.localtime(): a program may change the
# process's time zone (Django sets os.environ["TZ"] to its TIME_ZONE setting
# and calls time.tzset()), and the lines must keep the clock of the terminal
# they are read on.  (A daylight-saving change during the run is not
# followed: the offset stays the start-up one.)
_START_OFFSET = None


def _capture_clock():
    global _START_OFFSET
    if _START_OFFSET is None:
        _START_OFFSET = time.localtime().tm_gmtoff


def _clock(t=None):
    """``12:03:04.512``: the time of a reload line, in the time zone the
    CLI started in (see _START_OFFSET)."""
    t = time.time() if t is None else t
    if _START_OFFSET is None:
        local = time.localtime(t)
    else:
        local = time.gmtime(t + _START_OFFSET)
    return time.strftime("%H:%M:%S", local) + \
        ".%03d" % (int(t * 1000) % 1000)


def _statement(filename, lineno):
    """``file:line: source`` of the statement an error points at."""
    if not filename:
        return None
    where = f"{filename}:{lineno}" if lineno else filename
    if lineno:
        import linecache
        linecache.checkcache(filename)  # the file was just saved
        text = linecache.getline(filename, lineno).strip()
        if text:
            where += f": {text}"
    return where


class Output:
    """The CLI's output: reload lines, messages and the event stream.

    ``sink`` is given to the core (``set_log_sink``), ``after_reload`` is
    an after-reload hook.  Lines go to ``stream`` (a private duplicate of
    stderr), at ``level`` and above; events to ``events_path``.
    """

    def __init__(self, level, verbose=False, events_path=None,
                 stream=None):
        self.level = level
        self.verbose = verbose
        _capture_clock()
        self._own = stream is None
        if stream is None:
            try:
                stream = open(os.dup(sys.stderr.fileno()), "w",
                              encoding=getattr(sys.stderr, "encoding", None),
                              errors="backslashreplace", buffering=1)
            except (AttributeError, OSError, ValueError):
                # no descriptor behind sys.stderr (an embedding, a test
                # capture): write to the object itself
                stream, self._own = sys.stderr, False
        self.stream = stream
        self.events = (open(events_path, "a", encoding="utf-8", buffering=1)
                       if events_path else None)
        self.tag = ""          # "[pid]" in a forked child
        self._failure = None   # (ReloadError, its message) just logged
        self.failing = {}      # module -> [since, saves, statement]

    # -- writing -----------------------------------------------------------
    def line(self, text, level=logging.INFO, stamp=False, at=None):
        if level < self.level or self.stream is None:
            return
        text = text.rstrip()
        if text.startswith("hotswap: "):
            text = text[len("hotswap: "):]
        text = f"hotswap{self.tag}: {text}"
        if stamp:
            # `at`: the time the line speaks of, so a later "since" that
            # names it shows the same clock
            text = f"{_clock(at)} {text}"
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the terminal went away: never break the program

    def write_event(self, event):
        if self.events is None:
            return
        self.events.write(json.dumps(event, default=str) + "\n")
        self.events.flush()

    # -- the core's side ---------------------------------------------------
    def sink(self, event):
        """The core's events (see the module docstring).  A reload line
        and a failure are written by after_reload, from the Report; the
        rest (warnings) as they come."""
        kind = event["event"]
        if kind == "failed":
            error = event["error"]
            self._failure = (error, message(event))
            if getattr(error, "report", None) is None:
                self._failed(None, error, self._failure[1])
            return
        if kind == "applied":
            return
        self.line(message(event), logging.WARNING)

    def after_reload(self, report):
        if report.ok:
            self._applied(report)
            return
        error, message = self._failure or (None, None)
        self._failure = None
        error = report.error or error
        self._failed(report, error, message)

    def _applied(self, report):
        entries = tuple(report.entries)
        if not (report.changed or entries):
            return
        text = str(report)
        for m in report.modules:
            if m.status != "unchanged" and m.name in self.failing:
                since, saves, _ = self.failing.pop(m.name)
                text += (f"\n  {m.name} had kept its old code since "
                         f"{_clock(since)} ({saves} failed "
                         f"save{'s' if saves != 1 else ''})")
        if self.verbose:
            for action in _CHANGE_ACTIONS:
                names = [f"{c.module}.{c.name}" for c in entries
                         if c.action == action and c.code is None]
                if names:
                    text += f"\n  {action}: {', '.join(names)}"
        self.line(text, logging.INFO, stamp=True)
        self.write_event(report_event(report))

    def _failed(self, report, error, message):
        if message is None:
            message = str(error) if error is not None else "reload failed"
        module = getattr(error, "module", None)
        if module is None and report is not None:
            module = next((m.name for m in report.modules
                           if m.status == "failed"), None)
        statement = _statement(getattr(error, "filename", None),
                               getattr(error, "lineno", None))
        now = time.time()
        if module is not None:
            state = self.failing.setdefault(module, [now, 0, None])
            state[1] += 1
            state[2] = statement
            if state[1] > 1:
                message += (f"\n  {module} has kept its old code since "
                            f"{_clock(state[0])} ({state[1]} failed saves "
                            f"in a row)")
                if statement:
                    message += f"; failing statement: {statement}"
        self.line(message, logging.WARNING, stamp=True, at=now)
        self.write_event(report_event(report, error))

    def close(self):
        for f in (self.events, self.stream if self._own else None):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self.events = self.stream = None
