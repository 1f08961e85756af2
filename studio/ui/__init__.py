"""The PySide6 window. Qt lives here and only here."""
