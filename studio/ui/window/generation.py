"""Generation dispatch: a job submitted with what its workspace gives it, and its events
landing back in that workspace.

An image generator's pictures (``image``/``mask`` parameters) and size are filled from the
canvas when the job is submitted, and its previews and result land where they came from
(the selection). An audio generator's prompt is the selected clip, which its result
continues. Text goes through ``TextGeneration``. The bridge's events reach these handlers
only while the job's document is still shown (``JobRouting``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.engine.generators import Generator, Preview, Progress, Result
from studio.core.engine.jobs import Job, JobState
from studio.core.image.canvas_inputs import OWN_SIZE, Placement, canvas_inputs, place_result
from studio.core.image.control_inputs import control_inputs
from studio.core.image.staged_results import batch_size
from studio.core.project.results import result_name
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


class GenerationDispatch(QObject):
    """Submits image and audio jobs and lands every job's state, progress, previews and result."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._placements: dict[int, Placement] = {}  # job id -> where its picture lands
        self._continuations: dict[int, int] = {}  # job id -> the clip its audio continues

    def generate(self, generator_id: str, values: dict) -> Job | None:
        """Submit a job; an image generator's pictures (and size, under a selection) come from the canvas."""
        window = self.window
        generator = window.host.generators.get(generator_id)
        if generator is not None and generator.kind == "text":
            return window.writing.generate_text(generator_id, values, "continue")
        placement = Placement()
        try:
            if generator is not None and generator.kind == "image":
                values, placement = canvas_inputs(
                    window.canvas.document, window.canvas.active_layer, generator.params, values, window.use_layer_action.isChecked()
                )
                values = control_inputs(window.canvas.document, generator.params, values, placement)  # the chosen control layer
            prompt_clip = None
            if generator is not None and generator.kind == "audio":
                values, prompt_clip = self._timeline_inputs(generator, values)
            job = window.host.submit(generator_id, values, listeners=[window.bridge.listener])
            if prompt_clip is not None:
                self._continuations[job.id] = prompt_clip
        except StudioError as exc:
            window.warn("Cannot generate", str(exc))
            return None
        self._placements[job.id] = placement
        window.jobs_panel.add(job)
        window.workspaces.show_workspace_for(job.generator)
        if placement.source == "selection" and placement.size is not None:
            window.statusBar().showMessage(f"Generating into the selection ({placement.size[0]} × {placement.size[1]} at {placement.x}, {placement.y})", 8000)
        elif placement.source == "layer" and window.canvas.active_layer is not None:
            window.statusBar().showMessage(f"Generating from the layer “{window.canvas.active_layer.name}”", 8000)
        return job

    def _timeline_inputs(self, generator: Generator, values: dict) -> tuple[dict, int | None]:
        """An audio prompt is the selected clip as heard, when the user lets clips be continued;
        returns the values and the id of the clip continued (None: none)."""
        audio = self.window.audio
        wanted = [p.name for p in generator.params if p.type == "audio" and values.get(p.name) is None]
        clip = audio.selected_clip() if self.window.continue_clip_action.isChecked() else None
        if not wanted or clip is None:
            return values, None
        prompt = audio.selected_audio()  # rendered only when a generator takes it
        return {**values, **{name: prompt for name in wanted}}, clip.id

    # -- a job's events, back from the bridge ----------------------------------------------

    def on_state(self, job: Job, state: JobState, message: str) -> None:
        window = self.window
        row = window.jobs_panel.row(job)
        if row is not None:
            row.on_state(state, message)
        if state.done:
            self._placements.pop(job.id, None)
            self._continuations.pop(job.id, None)
        if state in (JobState.CANCELLED, JobState.FAILED):
            if job.generator.kind == "image":
                window.canvas.view.show_preview(None)
            elif job.generator.kind == "text" and window.routing.current(job):  # else: its text was replaced
                window.text.abandon(job)
                if state is JobState.CANCELLED:
                    window.statusBar().showMessage("Stopped: what streamed is kept (Ctrl+Z removes it)", 8000)
        if state is JobState.FAILED:
            window.statusBar().showMessage(f"{job.generator.title or job.generator.id} failed: {message}", 15000)
        if job.abandoned:  # the user pressed Cancel and saw nothing happen: tell them why
            window.statusBar().showMessage(message, 15000)

    def on_progress(self, job: Job, progress: Progress) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_progress(progress)
        if job.generator.kind == "text":
            self.window.text.progress(job, progress.step)

    def on_preview(self, job: Job, preview: Preview) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_preview(preview)
        if preview.kind == "image":
            placement = self._placements.get(job.id)
            self.window.canvas.view.show_preview(preview.value, placement.preview_rect() if placement is not None else None)
        elif preview.kind == "text":
            self.window.text.stream(job, str(preview.value))

    def on_result(self, job: Job, result: Result) -> None:
        window = self.window
        title = job.generator.title or job.generator.id
        name = result_name(title, result.params)
        if result.kind == "image":
            placement = self._placements.get(job.id) or Placement()
            try:
                pixels = place_result(result.value, placement, own_size=bool(result.info.get(OWN_SIZE)))
            except ValueError as exc:
                window.warn(f"{title} gave a picture Studio cannot show", str(exc))
                return
            # A batch waits in the results strip to be applied; a single picture lands as a layer
            # (and is listed there too, to compare or apply again).
            staged = batch_size(job.request.params) > 1
            target: int | None = window.canvas.results.land(job.id, name, pixels, placement, result.generator, dict(result.params), staged)
        elif result.kind == "text":
            window.text.finish(job, str(result.value), dict(result.info))
            target = job.id  # the key of the text's generated spans
        elif result.kind == "audio":
            clip = window.audio.add_generated(result, title, continues=self._continuations.get(job.id))
            target = clip.id if clip is not None else None
        else:
            target = None
        window.history.record(job, result, title, target)
        notes = list(result.info.get("notes", ()))
        if notes:  # e.g. a prompt cut at CLIP's 77 tokens: the user should know what was dropped
            window.statusBar().showMessage(f"{title} finished. Note: {' '.join(notes)}", 20000)
        elif result.kind == "image" and batch_size(job.request.params) > 1:
            window.statusBar().showMessage(f"{title}: “{name}” is in the results strip: click to see it in place, double-click to apply", 8000)
        else:
            window.statusBar().showMessage(f"{title} finished", 5000)
