"""`pycontain build`: images from a Dockerfile (parser, stages, steps, cache)."""
