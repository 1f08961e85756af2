"""The docks' widgets (Generate with its parameter form, Jobs, History): they know nothing of the window."""
