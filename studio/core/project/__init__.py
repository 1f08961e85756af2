"""The project file and what lands in it: format, archive, save, load, fields, recovery, history, results, outputs."""
