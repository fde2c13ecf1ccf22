"""Created functions: their configuration, code packages and log streams."""
