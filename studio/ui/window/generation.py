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
from shiboken6 import isValid

from studio.core.engine.generators import Generator, Preview, Progress, Result
from studio.core.engine.jobs import Job, JobState
from studio.core.image.canvas_inputs import GENERATE, OWN_SIZE, REFINE, Placement, canvas_inputs, canvas_to_hold, generation_size, modes_for, place_result
from studio.core.image.control_inputs import control_inputs
from studio.core.image.geometry import Rect
from studio.core.image.provenance import composite_source
from studio.core.image.staged_results import batch_size
from studio.core.project.results import result_name
from studio.ui.timeline.growing_takes import clock
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
        self._sources: dict[int, str | None] = {}  # job id -> what makes its pictures (provenance)

    def generate(self, generator_id: str, values: dict, placement: Placement | None = None) -> Job | None:
        """Submit a job; an image generator's pictures (and size, under a selection) come from the
        canvas, unless a ``placement`` is given: then ``values`` already hold them (a flow of
        jobs chose them, as Upscale and refine does) and the picture lands there."""
        window = self.window
        generator = window.host.generators.get(generator_id)
        if generator is not None and generator.kind == "text" and window.chatting.showing():
            return window.chatting.generate_from_panel()  # the chat view is shown: Generate answers there
        if generator is not None and generator.kind == "text":
            return window.writing.generate_text(generator_id, values, "continue")
        chosen = placement is not None
        placement = placement or Placement()
        try:
            if generator is not None and generator.kind == "image" and not chosen:
                # The panel's Generate / Refine / Inpaint: the user's choice, never a guess.
                mode = window.generate_panel.mode()
                values, placement = canvas_inputs(window.canvas.document, window.canvas.active_layer, generator.params, values, mode)
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
        self._sources[job.id] = self._source_of(generator, placement)
        self._tell_where(placement, generator, values)
        window.jobs_panel.add(job)
        window.workspaces.show_workspace_for(job.generator)
        return job

    def _source_of(self, generator: Generator | None, placement: Placement) -> str | None:
        """What its pictures will be, for provenance: its generator's kind of picture, or, for
        one that only resamples its input (``digital_source`` ""), what the input was."""
        if generator is None or generator.kind != "image":
            return None
        if generator.digital_source:
            return generator.digital_source
        canvas = self.window.canvas
        if placement.source == "selection":
            return composite_source(canvas.document.layers)
        layer = canvas.active_layer
        return layer.source if placement.source == "layer" and layer is not None else None

    # -- what the Generate panel shows of the canvas -------------------------------------------

    def watch_canvas(self) -> None:
        """Keep the Generate panel's size and its line on the mode's source up to date."""
        window = self.window
        window.canvas.inputs_changed.connect(self.show_canvas_state)
        window.undo_stack.indexChanged.connect(self.show_canvas_state)  # a stroke ended: a layer may be empty no more
        window.generate_panel.generator_changed.connect(self.show_canvas_state)
        window.generate_panel.mode_changed.connect(self.show_canvas_state)
        self.show_canvas_state()

    def show_canvas_state(self, *_: object) -> None:
        panel, canvas = self.window.generate_panel, self.window.canvas
        if not isValid(panel.combo):
            # The window is being taken apart: its layout deletes the tabbed docks (the panel
            # among them) before the undo stack, whose clearing still says its index changed.
            return
        generator = panel.current()
        if generator is None or generator.kind != "image":
            return
        size, follows = generation_size(canvas.document, generator.params)
        panel.show_canvas(size, follows, self._source_line(panel.mode(), follows == "selection"))

    def _source_line(self, mode: str, selection: bool) -> str:
        """What the mode starts from and where its picture lands, in a line."""
        layer = self.window.canvas.active_layer
        if mode == GENERATE:
            return "From the prompt alone; the picture lands in the selection" if selection else "From the prompt alone"
        if selection:
            return "Refines the picture in the selection" if mode == REFINE else "Repaints the selection (or the mask painted in it)"
        if layer is None:
            return "Nothing to start from: select an area or add a picture first"
        if not layer.pixels[..., 3].any():
            return f"The layer “{layer.name}” is empty: paint on it, choose another layer or select an area"
        return f"Refines the layer “{layer.name}”" if mode == REFINE else f"Repaints the mask painted on the layer “{layer.name}”"

    def _tell_where(self, placement: Placement, generator: Generator | None, values: dict) -> None:
        """The status bar says what the job starts from and where its picture will land."""
        window = self.window
        if generator is None or generator.kind != "image":
            return
        mode = window.generate_panel.mode() if modes_for(generator.params) else ""
        verb = {"refine": "Refining", "inpaint": "Inpainting"}.get(mode, "Generating")
        layer = window.canvas.active_layer
        if placement.source == "selection" and placement.size is not None:
            where = f"{'into ' if verb == 'Generating' else ''}the selection ({placement.size[0]} × {placement.size[1]} at {placement.x}, {placement.y})"
        elif placement.source == "layer" and layer is not None:
            where = f"{'from ' if verb == 'Generating' else ''}the layer “{layer.name}”"
        elif placement.expected_size is not None:
            where = f"from the prompt at {placement.expected_size[0]} × {placement.expected_size[1]}"
        else:
            where = "from the prompt"
        window.statusBar().showMessage(f"{verb} {where}", 8000)

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
        window.job_indicator.ended(job) if state.done else window.job_indicator.started(job)
        if state.done:
            self._placements.pop(job.id, None)
            self._sources.pop(job.id, None)
            if job.generator.kind == "image":  # landed (and its thumbnail drawn): kept once, not twice
                job.release_pictures()
            if job.generator.kind == "audio":
                self._end_growing(job, state)
            self._continuations.pop(job.id, None)
        if state in (JobState.CANCELLED, JobState.FAILED):
            if job.generator.kind == "image":
                window.canvas.view.show_preview(None)
            elif job.generator.kind == "text" and window.chatting.owns(job):  # a chat reply: kept as a take
                window.chatting.view.ended(job, stopped=state is JobState.CANCELLED)
                if state is JobState.CANCELLED:
                    window.statusBar().showMessage("Stopped: what the reply wrote is kept (Retry writes another take)", 8000)
            elif job.generator.kind == "text" and window.routing.current(job):  # else: its text was replaced
                window.text.abandon(job)
                if state is JobState.CANCELLED:
                    window.statusBar().showMessage("Stopped: what streamed is kept (Ctrl+Z removes it)", 8000)
        if state is JobState.FAILED:
            window.statusBar().showMessage(f"{job.generator.title or job.generator.id} failed: {message}", 15000)
        if job.abandoned:  # the user pressed Cancel and saw nothing happen: tell them why
            window.statusBar().showMessage(message, 15000)

    def _end_growing(self, job: Job, state: JobState) -> None:
        """A stopped take keeps what it streamed (one undo step); a failed one is dropped."""
        audio = self.window.audio
        if state is not JobState.CANCELLED or not self.window.routing.current(job):
            audio.growing.drop(job.id)
            return
        landed = audio.growing.land_stopped(job.id, job.generator.id, dict(job.request.params), self._continuations.get(job.id))
        if landed is not None:
            clip, result = landed
            stopped = f"(stopped at {clock(result.info['stopped_at_s'])})"
            self.window.history.record(job, result, f"{job.generator.title or job.generator.id} {stopped}", clip.id)
            self.window.statusBar().showMessage(f"Stopped: “{clip.name}” keeps what was made (Ctrl+Z removes it)", 8000)

    def on_progress(self, job: Job, progress: Progress) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_progress(progress)
        self.window.job_indicator.progressed(job, progress)
        if job.generator.kind == "text":
            self.window.text.progress(job, progress.step)

    def on_preview(self, job: Job, preview: Preview) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_preview(preview)
        if preview.kind == "image":
            placement = self._placements.get(job.id)
            params = job.request.params
            full = (params["width"], params["height"]) if isinstance(params.get("width"), int) and isinstance(params.get("height"), int) else None
            self.window.canvas.view.show_preview(preview.value, placement.preview_rect() if placement is not None else None, full)
        elif preview.kind == "text" and self.window.chatting.owns(job):
            self.window.chatting.view.stream(job, str(preview.value))
        elif preview.kind == "text":
            self.window.text.stream(job, str(preview.value))
        elif preview.kind == "audio":  # a streaming take grows on the timeline while it works
            title = job.generator.title or job.generator.id
            self.window.audio.growing.grow(job.id, title, job.request.params, preview.value, preview.sample_rate, self._continuations.get(job.id))

    def on_result(self, job: Job, result: Result) -> None:
        window = self.window
        grown: tuple[int, int] | None = None  # the canvas's new size, when the picture needed more room
        chat_reply = None  # a chat reply's link, for its History entry
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
            grown = None if staged else canvas_to_hold(window.canvas.document, Rect(placement.x, placement.y, pixels.shape[1], pixels.shape[0]))
            if grown is not None:  # never cut off without a word: the canvas grows with it, one undo step
                window.undo_stack.beginMacro(f"Generate “{name}”")
                before = (window.canvas.document.width, window.canvas.document.height)
                grown = grown if window.canvas.resize_canvas(*grown, anchor="top-left") else None
            source = self._sources.get(job.id)
            target: int | None = window.canvas.results.land(job.id, name, pixels, placement, result.generator, dict(result.params), staged, source)
            if grown is not None:
                window.undo_stack.endMacro()
        elif result.kind == "text" and window.chatting.owns(job):
            chat_reply = window.chatting.finish(job, str(result.value))  # History links the reply
            target = job.id if chat_reply is not None else None
        elif result.kind == "text":
            window.text.finish(job, str(result.value), dict(result.info))
            target = job.id  # the key of the text's generated spans
        elif result.kind == "audio":
            window.audio.growing.drop(job.id)  # the finished take replaces the one that grew
            clip = window.audio.add_generated(result, title, continues=self._continuations.get(job.id))
            target = clip.id if clip is not None else None
        else:
            target = None
        window.history.record(job, result, title, target, chat_reply)
        notes = list(result.info.get("notes", ()))
        if result.kind == "text" and not str(result.value):  # the model's first token was its end
            notes.append("it wrote nothing (the model ended the text at once): Retry for another take, or write a few words more first.")
        if result.kind == "image" and grown is not None:
            notes.append(
                f"The picture ({pixels.shape[1]} × {pixels.shape[0]}) was larger than the canvas ({before[0]} × {before[1]}): "
                f"the canvas grew to {grown[0]} × {grown[1]} to hold it (Undo takes both back)."
            )
        if notes:  # e.g. a prompt cut at CLIP's 77 tokens: the user should know what was dropped
            window.statusBar().showMessage(f"{title} finished. Note: {' '.join(notes)}", 20000)
        elif result.kind == "image" and batch_size(job.request.params) > 1:
            window.statusBar().showMessage(f"{title}: “{name}” is in the results strip: click to see it in place, double-click to apply", 8000)
        else:
            window.statusBar().showMessage(f"{title} finished", 5000)
