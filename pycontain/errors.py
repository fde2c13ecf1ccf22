"""Engine errors carry the docker-style exit code the CLI returns."""

ENGINE = 125       # bad flag, unknown image, engine failure
CANNOT_EXEC = 126  # command found but not executable
NOT_FOUND = 127    # command not found


class PycontainError(Exception):
    """An error shown to the user as one line, with a docker-style exit code."""

    def __init__(self, message: str, code: int = ENGINE):
        super().__init__(message)
        self.code = code
