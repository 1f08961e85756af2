"""A model's chat template, rendered within bounds of size and time.

A chat template is a Jinja program that came with a downloaded model. jinja2's sandbox stops it
from reaching Python's internals, but not from making a 300 MB string (``{{ 'ab ' * 10**8 }}``,
which the tokenizer then aborted the whole process on) or from looping for hours
(``{% for i in range(100000) %}{% for j in range(100000) %}``). So rendering here:

- refuses, before it happens, an operation whose result would exceed the output bound: a
  repeated string or list, a concatenation, a huge power, a huge width given to a filter or a
  method (``center``, ``ljust``, ``indent``...) or written into a format string;
- caps ``range`` far below jinja2's 100,000;
- watches the clock on every line of the compiled template (a trace function limited to the
  template's own frames), so a loop that produces nothing still stops at the deadline;
- counts the characters as the template yields them.

Each limit ends in a ``ChatTemplateError`` that says what the template did.
"""

from __future__ import annotations

import re
import sys
import time
from numbers import Integral, Number
from typing import Any, Callable, Mapping

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Characters a template may add around the messages it is given: real templates add a few
#: hundred (role markers, a system prompt).
TEMPLATE_CHARS = 100_000
MAX_RANGE = 10_000
MAX_BITS = 1 << 16  # whole numbers of up to ~20,000 digits: far more than any template counts
#: Real templates render in milliseconds.
DEADLINE_S = 2.0
TEMPLATE_FILE = "<template>"  # the file name jinja2 gives code compiled from a string
# A width or precision in a %-format or a str.format spec: "%1000000000s", "{:>1000000000}".
FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d+)|%[-+ #0]*\*?\.(\d+)|\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


class ChatTemplateError(TemplateError):
    """The template asked for more than a chat prompt can need."""


def _size(value: Any) -> int:
    """Characters a value stands for: a text's length; a list's items and the texts in it."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) + sum(len(item) for item in value if isinstance(item, (str, bytes)))
    return 0


def _replaced_size(text: Any, old: Any, new: Any) -> int:
    """The length of ``text.replace(old, new)``, computed without making it."""
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        return 0
    if not old:  # "" matches between every two characters
        return len(text) + (len(text) + 1) * len(new)
    return len(text) + text.count(old) * max(0, len(new) - len(old))


class _CheckedConcat(CodeGenerator):
    """Compiles ``a ~ b`` to a join that counts first: doubled in a loop, it would otherwise
    reach gigabytes in thirty steps, before any deadline."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        self.write("environment.checked_join((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, with every way to a huge result checked before it is made."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CheckedConcat

    def __init__(self, max_chars: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_chars = max_chars
        self.globals["range"] = self._range
        self.filters = {name: self._checked_filter(name, f) for name, f in self.filters.items()}

    def _refuse(self, what: str) -> None:
        raise ChatTemplateError(f"it {what}, more than a chat prompt can need (at most {self.max_chars:,} characters)")

    def _range(self, *args: Any) -> range:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise ChatTemplateError(f"it asks for a range of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
        return numbers

    def checked_join(self, parts: tuple) -> str:
        texts = [str(part) for part in parts]
        if sum(map(len, texts)) > self.max_chars:
            self._refuse("joins texts")
        return "".join(texts)

    def _check_number(self, value: Any) -> None:
        if isinstance(value, Integral) and not isinstance(value, bool) and abs(value) > self.max_chars:
            shown = f"{value:,}" if abs(value) < 10**15 else f"a number of {len(str(abs(value)))} digits"
            self._refuse(f"passes the number {shown} as a size")

    def _check_format(self, text: Any) -> None:
        if isinstance(text, str):
            for match in FORMAT_WIDTH.finditer(text):
                width = next(int(group) for group in match.groups() if group is not None)
                if width > self.max_chars:
                    self._refuse(f"formats a field {width:,} characters wide")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        whole = all(isinstance(x, Integral) and not isinstance(x, bool) for x in (left, right))
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if _size(sequence) and isinstance(count, Integral) and _size(sequence) * count > self.max_chars:
                    self._refuse(f"repeats a text {count:,} times")
            # Squaring a number in a loop doubles its digits each time, in C, past any deadline.
            if whole and int(left).bit_length() + int(right).bit_length() > MAX_BITS:
                self._refuse("multiplies numbers with too many digits")
        elif operator == "**":
            if whole and abs(left) > 1 and int(left).bit_length() * max(0, int(right)) > MAX_BITS:
                self._refuse(f"raises a number to the power {right:,}")
            elif isinstance(left, Number) and isinstance(right, Number) and not whole and abs(right) > MAX_BITS:
                self._refuse(f"raises a number to the power {right}")
        elif operator == "+" and _size(left) + _size(right) > self.max_chars:
            self._refuse("joins texts")
        elif operator == "%":
            self._check_format(left)
        return super().call_binop(context, operator, left, right)

    def _check_call(self, obj: Any, args: tuple, kwargs: Mapping[str, Any]) -> None:
        for value in (*args, *kwargs.values()):
            self._check_number(value)
        # The sandbox hands out str.format wrapped (jinja2's own safe formatter): look through it.
        method = getattr(obj, "__wrapped__", obj)
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                self._check_format(owner)
            elif name == "replace" and len(args) >= 2 and _replaced_size(owner, args[0], args[1]) > self.max_chars:
                self._refuse("replaces into a text")
            elif name == "join" and args and isinstance(args[0], (list, tuple)) and _size(args[0]) + len(owner) * len(args[0]) > self.max_chars:
                self._refuse("joins texts")

    def _checked_filter(self, name: str, function: Callable) -> Callable:
        environment = self

        def checked(*args: Any, **kwargs: Any) -> Any:
            # Filters get the context or environment first when they ask for it: skip those.
            values = [a for a in args if not hasattr(a, "environment") and a is not environment]
            for value in values[1:] + list(kwargs.values()):
                environment._check_number(value)
            if name == "format" and values:
                environment._check_format(values[0])
            if name == "replace" and len(values) >= 3 and _replaced_size(str(values[0]), values[1], values[2]) > environment.max_chars:
                environment._refuse("replaces into a text")
            if name == "join" and values and isinstance(values[0], (list, tuple)):
                glue = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
                if _size(values[0]) + len(glue) * len(values[0]) > environment.max_chars:
                    environment._refuse("joins texts")
            if name == "indent" and values and isinstance(values[0], str):
                width = values[1] if len(values) > 1 else kwargs.get("width", 4)
                width = len(width) if isinstance(width, str) else width
                if isinstance(width, int) and len(values[0]) + (values[0].count("\n") + 1) * width > environment.max_chars:
                    environment._refuse("indents a text")
            return function(*args, **kwargs)

        for attribute in ("jinja_pass_arg",):  # keep pass_context / pass_environment markers
            if hasattr(function, attribute):
                setattr(checked, attribute, getattr(function, attribute))
        return checked

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja2's own signature
        __self._check_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if _size(result) > __self.max_chars:
            __self._refuse("makes a text or list too long")
        return result


class _Deadline:
    """A trace function that stops the template's own frames once time is up."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds
        self.seconds = seconds
        self.lines = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        # Only frames of the compiled template are followed line by line: jinja2's and
        # Python's own code runs untraced, at full speed.
        return self._line if event == "call" and frame.f_code.co_filename == TEMPLATE_FILE else None

    def _line(self, frame: Any, event: str, arg: Any) -> Any:
        self.lines += 1
        if self.lines % 256 == 0 and time.monotonic() > self.until:
            raise ChatTemplateError(f"it ran for more than {self.seconds:g} s")
        return self._line


def render_chat_template(source: str, max_chars: int, deadline_s: float = DEADLINE_S, **variables: Any) -> str:
    """``source`` rendered with ``variables`` (messages, bos_token...), or ``TemplateError``
    (``ChatTemplateError`` when a bound was hit)."""

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment = BoundedSandbox(max_chars, trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    template = environment.from_string(source)
    deadline = _Deadline(deadline_s)
    previous = sys.gettrace()
    sys.settrace(deadline)
    try:
        parts, total = [], 0
        for chunk in template.generate(**variables):
            total += len(chunk)
            if total > max_chars:
                environment._refuse("writes a prompt too long")
            parts.append(chunk)
            if time.monotonic() > deadline.until:
                raise ChatTemplateError(f"it ran for more than {deadline_s:g} s")
    finally:
        sys.settrace(previous)  # a debugger's or coverage's tracer, if one was running
    return "".join(parts)
