"""Text generated without ``-o``: streamed to stdout as it comes, the facts to stderr."""

from __future__ import annotations

import sys
from typing import Any

from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, user_error


def stream_text(host: Any, generator: Any, request: Any, device: Any) -> int:
    """Text without ``-o``: the generated text goes to stdout as it streams, facts to stderr.

    Streaming chunks is optional for a generator: a result that nothing streamed before is
    printed whole, so stdout always holds what ``-o`` and ``--project`` would keep."""
    from studio.cli.interrupt import wait_for_job
    from studio.core.engine.generators import Preview, Result
    from studio.core.engine.jobs import JobState

    streamed = False

    def write(job: Any, event: Any) -> None:
        nonlocal streamed
        if isinstance(event, Preview) and event.kind == "text":
            text, streamed = str(event.value), True
        elif isinstance(event, Result) and event.kind == "text":
            text, streamed = ("" if streamed else str(event.value)), False
        else:
            return
        sys.stdout.write(text)
        sys.stdout.flush()

    job = host.runner.submit(generator, request, device, listeners=[write])
    if wait_for_job(job, host.runner, before_hint=lambda: print(flush=True)):  # the hint on a line of its own
        print(f"studio: {job.message if job.abandoned else 'stopped'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if job.state is not JobState.FINISHED or job.result is None:
        if job.state is JobState.CANCELLED:
            return EXIT_INTERRUPTED
        if job.internal_error:
            print(f"studio: {job.message}", file=sys.stderr)
            return EXIT_INTERNAL
        return user_error(job.message or f"{generator.id} failed")
    sys.stdout.write("\n")
    info = job.result.info
    for note in info.get("notes", ()):
        print(f"studio: note: {note}", file=sys.stderr)
    if "tokens_per_s" in info:
        print(
            f"studio: {info.get('new_tokens', '?')} tokens, {info['tokens_per_s']:.1f} tokens/s, "
            f"first token after {info.get('ttft_s', 0):.3f} s, seed {request.seed}",
            file=sys.stderr,
        )
    return EXIT_OK
