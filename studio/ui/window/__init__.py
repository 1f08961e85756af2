"""The main window, split into its parts: MainWindow composes them (main_window.py)."""
