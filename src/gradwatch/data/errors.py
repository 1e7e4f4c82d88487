"""The one exception type of the data layer."""


class DataError(ValueError):
    """Input data that cannot be used, with a message that says how to fix it.

    The message is one sentence meant for the person who supplied the data:
    what is wrong, where (file, column, line numbers or dates) and what to do.
    The command line prints it as a single line and exits with status 2.
    """
