"""Markdown emphasis as the writer sees it: the formats Qt lays out for each character.

The highlighter is the real one, in the real Text workspace, on a real .md file; the test
reads each block's ``QTextLayout`` formats (what Qt paints), not the highlighter's rules.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont

from studio.ui.editor.workspace import TextWorkspace


@pytest.fixture
def markdown(qtbot, tmp_path):
    """Open ``text`` as a .md file; return (bold, italic, mono) for each character of each line."""

    def open_markdown(text: str) -> list[list[tuple[bool, bool, bool]]]:
        workspace = TextWorkspace()
        qtbot.addWidget(workspace)
        path = tmp_path / "draft.md"
        path.write_text(text, encoding="utf-8")
        assert workspace.open_file(path) and workspace.highlighter.markdown
        lines = []
        block = workspace.editor.document().firstBlock()
        while block.isValid():
            styles = [(False, False, False)] * block.length()
            for fmt in block.layout().formats():
                style = (fmt.format.fontWeight() >= QFont.Weight.Bold, fmt.format.fontItalic(), fmt.format.fontFixedPitch())
                for offset in range(fmt.start, fmt.start + fmt.length):
                    styles[offset] = style
            lines.append(styles[: block.length() - 1])
            block = block.next()
        return lines

    return open_markdown


def styled(line: str, styles, part: str) -> set[tuple[bool, bool, bool]]:
    """The styles found on every character of ``part`` (its first occurrence in ``line``)."""
    start = line.index(part)
    return set(styles[start : start + len(part)])


PLAIN, BOLD, ITALIC, BOLD_ITALIC = (False, False, False), (True, False, False), (False, True, False), (True, True, False)


@pytest.mark.parametrize(
    "line, part, style",
    [
        ("A **bold** word", "**bold**", BOLD),
        ("A __bold__ word", "__bold__", BOLD),
        ("An *italic* word", "*italic*", ITALIC),
        ("An _italic_ word", "_italic_", ITALIC),
        ("A ***strong*** word", "***strong***", BOLD_ITALIC),
        ("A ___strong___ word", "___strong___", BOLD_ITALIC),
        ("**bold with *italic* inside**", "bold with ", BOLD),
        ("**bold with *italic* inside**", "italic", BOLD_ITALIC),
        ("*italic with **bold** inside*", "bold", BOLD_ITALIC),
        ("*italic with **bold** inside*", "italic with ", ITALIC),
        ("A **bold** and an *italic*", " and an ", PLAIN),
        ("call snake_case_names here", "snake_case_names", PLAIN),
        ("2*3*4 is twenty-four", "2*3*4", PLAIN),
        ("a * b * c", "a * b * c", PLAIN),
        ("**not closed", "**not closed", PLAIN),
    ],
)
def test_emphasis_gets_its_own_weight_and_slant(markdown, line, part, style):
    (styles,) = markdown(line)
    assert styled(line, styles, part) == {style}


def test_emphasis_inside_a_heading_keeps_the_heading_bold_and_code_stays_code(markdown):
    heading, code = markdown("# A *quiet* act\nRun `a*b*c` now")
    assert styled("# A *quiet* act", heading, "*quiet*") == {BOLD_ITALIC}
    assert styled("# A *quiet* act", heading, "# A ") == {BOLD}
    assert styled("Run `a*b*c` now", code, "`a*b*c`") == {(False, False, True)}
