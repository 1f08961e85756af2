"""``studio batch FILE.jsonl``: many generations from a file, spread over the device's slots,
written as each finishes, and resumable.

The whole file is checked first (``studio.core.project.batch_file``): a bad line stops the run
before anything is generated. Then up to two jobs per slot of the device are kept in flight
(one running, one waiting, so a slot never idles while a result is written), each result is
written to the results folder as its job ends, and the request is recorded there
(``studio.core.project.batch_record``) so that running the same command again skips it.
Ctrl-C (or SIGTERM) cancels what is in flight and keeps what was written.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import queue
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from studio.cli.host import make_host
from studio.cli.interrupt import HINT, POLL
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR, user_error
from studio.cli.progress import ProgressBar
from studio.errors import StudioError

REDRAW = 0.25  # seconds between redraws of the progress line when nothing ended meanwhile


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    batch = commands.add_parser(
        "batch", parents=[common], help="many generations from a JSON Lines file, one request a line; resumable"
    )
    batch.add_argument(
        "file", metavar="FILE.jsonl",
        help='one request a line, e.g. {"generator": "cppn", "params": {"seed": 7}, "prompt": "..."}; '
             "blank lines and lines starting with # are skipped",
    )  # fmt: skip
    batch.add_argument("-o", "--output", metavar="DIR", help="where to write the results (default: <FILE stem>-results/ beside FILE)")
    batch.add_argument("--device", metavar="ID", help="cpu, cuda:0, ..., or ray for the Ray cluster (default: the device in the settings)")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress line and no summary")
    batch.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from studio.core.project.batch_file import EXAMPLE, read_batch
    from studio.core.project.batch_record import BatchRecord

    path = Path(args.file)
    host = make_host(args)
    try:
        batch = read_batch(path, host.generator)
        if batch.problems:  # every bad line at once: one round of fixes, not one per run
            for line, message in batch.problems:
                print(f"{path}:{line}: {message}", file=sys.stderr)
            count = len(batch.problems)
            return user_error(f"{count} bad line{'s' if count != 1 else ''} in {path}; nothing was generated")
        if not batch.requests:
            return user_error(f"{path} holds no requests: write one JSON object a line, for example {EXAMPLE}")
        device = host.resolve_device(args.device) if args.device else host.device()
        folder = results_folder(path, args.output)
        record = BatchRecord(folder)
        try:
            return BatchRun(host, device, batch, folder, record, quiet=args.quiet).run()
        finally:
            record.close()
    finally:
        host.shutdown()


def results_folder(path: Path, output: str | None) -> Path:
    """``-o DIR``, or ``<FILE stem>-results`` beside the file; made if missing, and checked
    writable before the first job starts."""
    from studio.core.project.batch_record import RECORD_NAME

    folder = Path(output).expanduser() if output else path.with_name(f"{path.stem}-results")
    if folder.exists() and not folder.is_dir():
        raise StudioError(f"cannot write results into {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(f"cannot make the results folder {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudioError(f"cannot write results into {folder}: the folder is not writable")
    record = folder / RECORD_NAME
    if record.exists() and os.path.samefile(record, path):  # the record is appended to, never the batch itself
        raise StudioError(f"{folder} would keep its record of the run in {path}, the batch file itself; choose another folder with -o")
    return folder


def result_stem(line: int, generator_id: str, seed: int | None) -> str:
    """``NNNNN-<generator>-<seed>``: sorted as the file is, and named as ``studio generate``
    names a result."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", generator_id).strip("-.") or "output"
    return f"{line:05d}-{name}" + (f"-{seed}" if seed is not None else "")


class BatchRun:
    """One run of a checked batch: submits, collects, writes, records and reports."""

    def __init__(self, host: Any, device: Any, batch: Any, folder: Path, record: Any, quiet: bool = False) -> None:
        self.host, self.device, self.batch, self.folder, self.record = host, device, batch, folder, record
        self.quiet = quiet
        self.todo = collections.deque(r for r in batch.requests if record.done(r.line, r.key) is None)
        self.skipped = len(batch.requests) - len(self.todo)
        self.total = len(self.todo)
        self.in_flight: dict[str, tuple[Any, Any]] = {}  # job id -> (job, its BatchRequest)
        self.ended: queue.Queue[Any] = queue.Queue()  # jobs whose end was heard, from worker threads
        self.done = self.failed = 0
        self.internal_error = False
        self.bar = ProgressBar(sys.stderr, enabled=not quiet)
        self.started = time.monotonic()
        self._drawn_at = 0.0

    def run(self) -> int:
        if self.skipped and not self.quiet:
            print(f"{self.skipped} already done, skipped", file=sys.stderr)
        try:
            with _terminate_as_interrupt():
                self._loop()
        except KeyboardInterrupt:
            self._cancel_in_flight()
            left = self.total - self.done - self.failed
            print(f"studio: interrupted: {self.done} done, {left} not done"
                  f"{f', {self.failed} failed' if self.failed else ''}; "
                  "run the same command again to resume", file=sys.stderr)  # fmt: skip
            return EXIT_INTERRUPTED
        self.bar.finish()
        if not self.quiet or self.failed:
            seconds = time.monotonic() - self.started
            print(f"{self.done} done, {self.failed} failed, {self.skipped} skipped in {_duration(seconds)}", file=sys.stderr)
        if self.failed:
            return EXIT_INTERNAL if self.internal_error else EXIT_USER_ERROR
        return EXIT_OK

    def _loop(self) -> None:
        # Two a slot: while one job runs the next waits in its queue, so a slot never stands
        # idle while this thread writes a result; more would only hold requests in memory.
        limit = 2 * max(1, getattr(self.device, "slots", 1))
        if not self.todo:
            return
        self._draw(force=True)
        while self.todo or self.in_flight:
            while self.todo and len(self.in_flight) < limit:
                self._submit(self.todo.popleft())
            try:
                job = self.ended.get(timeout=POLL)  # short waits keep Ctrl-C responsive
            except queue.Empty:
                self._draw()
                continue
            self._collect(job)
            self._draw(force=True)

    def _submit(self, item: Any) -> None:
        try:
            request = item.request()  # checked already; a picture file may have changed since
        except StudioError as exc:
            self._fail(item, str(exc))
            return
        job = self.host.runner.submit(item.generator, request, self.device, listeners=[self._hear])
        self.in_flight[job.id] = (job, item)  # before its end can be taken from the queue

    def _hear(self, job: Any, event: Any) -> None:
        from studio.core.engine.jobs import StateChanged

        if isinstance(event, StateChanged) and event.state.done:
            self.ended.put(job)

    def _collect(self, job: Any) -> None:
        from studio.core.engine.jobs import JobState

        _, item = self.in_flight.pop(job.id)
        if job.state is not JobState.FINISHED or not job.results:
            self.internal_error = self.internal_error or job.internal_error
            self._fail(item, job.message or f"{item.generator.id} {job.state.value}")
            return
        try:
            files = self._write(job, item)
        except StudioError as exc:  # a full disk, a folder gone: this request is not done
            self._fail(item, str(exc))
            return
        finally:
            # Written (or not): the pictures need not stay in memory for as long as the runner
            # lists the job (it keeps the last JobRunner.HISTORY ended jobs).
            job.release_pictures()
        self.record.add(item.line, item.key, files, item.seed)
        self.done += 1

    def _write(self, job: Any, item: Any) -> list[Path]:
        from studio.core.project.outputs import default_extension, write_result

        stem = result_stem(item.line, item.generator.id, item.seed)
        extension = default_extension(item.generator.kind)
        files = []
        for number, result in enumerate(job.results, start=1):
            for note in result.info.get("notes", ()):
                self.bar.say(f"{self.batch.path}:{item.line}: note: {note}")
            name = stem if number == 1 else f"{stem}-{number}"  # a generator's batch, as `generate` names it
            # Atomic (a temp file, then os.replace): an interrupted write leaves no partial file.
            path = write_result(result, self.folder / f"{name}{extension}", item.generator.digital_source)
            files.append(path)
            self.bar.finish()  # off the terminal's line first: stdout and stderr often share it
            print(os.path.abspath(path), flush=True)  # absolute: a script can use it from any folder
        return files

    def _fail(self, item: Any, message: str) -> None:
        self.failed += 1
        self.bar.say(f"{self.batch.path}:{item.line}: {message}")

    def _draw(self, force: bool = False) -> None:
        from studio.core.engine.generators import Progress
        from studio.core.engine.jobs import JobState

        now = time.monotonic()
        if self.quiet or (not force and now - self._drawn_at < REDRAW):
            return
        self._drawn_at = now
        finished = self.done + self.failed
        running = sum(1 for job, _ in self.in_flight.values() if job.state is JobState.RUNNING)
        elapsed = now - self.started
        eta = _duration(elapsed / finished * (self.total - finished)) if finished else "…"
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.update(Progress(finished, self.total, f"{running} running{failed}, {_duration(elapsed)}, ETA {eta}"))

    def _cancel_in_flight(self) -> None:
        """Cancel every job in flight and wait for them to stop, no longer than the runner's
        grace period; a second Ctrl-C abandons them at once (as ``studio generate`` does)."""
        self.todo.clear()
        self.bar.finish()
        print(HINT, file=sys.stderr, flush=True)
        jobs = [job for job, _ in self.in_flight.values()]
        runner = self.host.runner
        runner.cancel_all()  # and any job submitted just as the interrupt came
        deadline = time.monotonic() + runner.cancel_grace + 2.0
        try:
            with _terminate_as_interrupt():
                while not all(job.state.done for job in jobs) and time.monotonic() < deadline:
                    time.sleep(POLL)
        except KeyboardInterrupt:
            pass
        if not all(job.state.done for job in jobs):
            runner.shutdown(timeout=0)  # abandon them now: the user asked to quit


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a job scheduler's stop) ends the run as Ctrl-C does: what is
    written stays written, and the record says so."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a test calling main()): signals stay as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
