"""The pycontain command line: thin click commands over the library."""
