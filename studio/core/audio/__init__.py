"""The audio document: the timeline, the mixer, playback through sounddevice, MIDI notes."""
