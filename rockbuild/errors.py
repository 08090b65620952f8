"""The one exception type the command line turns into a clear message and a non-zero exit."""


class BuildError(Exception):
    """A failure the user can act on: the message names what is wrong and what to do."""
