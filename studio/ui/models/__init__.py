"""The model library's windows: the Models window (every model Studio knows, its variants,
defaults and removal) and the Download dialog (the curated catalogue and any hub repository)."""
