"""The Audio workspace: a multitrack arrangement to sketch music on.

``workspace`` puts it together (state, actions, shortcuts, playback); ``arrangement`` paints
the ruler, grid, clips and playhead and turns mouse gestures into edits; ``track_header``
holds each track's controls; ``transport_bar`` the play/loop/tempo/snap row; ``commands``
is the one undo step every edit uses; ``grid`` the beat arithmetic they share. The
arrangement itself is ``studio.core.timeline.Timeline``, an immutable value.
"""

from studio.ui.timeline.workspace import AudioWorkspace

__all__ = ["AudioWorkspace"]
