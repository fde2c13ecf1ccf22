"""Code that runs inside a function's jail: the standard library only."""
