"""The Audio workspace: a multitrack arrangement to sketch music on.

``workspace`` puts it together (state, undo, actions and shortcuts) from its parts: ``edits``
(tracks and clips), ``playback`` (transport, playhead, loop), ``import_export`` (audio files
in, the mix and MIDI out) and ``generation_landing`` (where a generator's audio goes).
``arrangement`` is the painted view, scrolled and zoomed, made of ``arrangement_geometry``
(coordinates, hit-testing), ``arrangement_painting`` (ruler, grid, clips, playhead) and
``arrangement_gestures`` (mouse gestures into edits); ``track_header`` holds each track's
controls; ``transport_bar`` the play/loop/tempo/snap row; ``commands`` is the one undo step
every edit uses; ``grid`` the beat arithmetic they share. The arrangement itself is
``studio.core.audio.timeline.Timeline``, an immutable value.
"""

from studio.ui.timeline.workspace import AudioWorkspace

__all__ = ["AudioWorkspace"]
