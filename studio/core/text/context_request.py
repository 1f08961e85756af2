"""Asking a text generator what it will read: the window's door to ``Generator.context_plan``.

The Context view and the Continue command reach the plugin through here (UI -> core ->
plugin): ``with_notes`` adds the story notes to a generator's values, only under the names it
takes; ``plan_for`` asks it for its ``ContextPlan``. A generator whose ``context_plan`` gives
none (the default: a plugin that does not say what it reads) is ``ContextUnavailable``, a
plain sentence for the view, never a guess of what it might do.
"""

from __future__ import annotations

from typing import Any

from studio.core.engine.generators import Generator
from studio.core.text.context import ContextPlan
from studio.core.text.story import StoryNotes
from studio.errors import StudioError

__all__ = ["ContextUnavailable", "plan_for", "with_notes"]


class ContextUnavailable(StudioError):
    """The generator does not say what it reads (its ``context_plan`` gives no plan)."""


def with_notes(generator: Generator | None, values: dict[str, Any], notes: StoryNotes | None) -> dict[str, Any]:
    """``values`` with the notes' values (``StoryNotes.as_values``) for the parameters
    ``generator`` takes; a generator that takes none of them gets ``values`` unchanged."""
    merged = dict(values)
    if generator is None or notes is None:
        return merged
    names = {param.name for param in generator.params}
    merged.update({name: value for name, value in notes.as_values().items() if name in names})
    return merged


def plan_for(generator: Generator, values: dict[str, Any]) -> ContextPlan:
    """What ``generator`` will read when it runs with ``values``: its own plan.

    ``ContextUnavailable`` when it has no plan to give; the generator's own ``StudioError``
    (a lorebook it cannot read, a model that is not there) passes through.
    """
    name = generator.title or generator.id
    planner = getattr(generator, "context_plan", None)
    plan = planner(dict(values)) if callable(planner) else None
    if plan is None:
        raise ContextUnavailable(f"{name} does not say what it reads")
    if not isinstance(plan, ContextPlan):
        raise ContextUnavailable(f"{name} answered with {type(plan).__name__}, not a context plan")
    return plan
