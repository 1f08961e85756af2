"""Studio's built-in plugins, registered through the ``studio`` entry-point group like any other."""
