"""The one exception type for mistakes a user can fix.

A ``UserError`` reaches the command line as a one-line message and exit status 2;
anything else is a bug and keeps its traceback (asv's split between the two).
"""


class UserError(Exception):
    """Bad input or an unusable environment, stated as the rule that was broken."""


EXIT_USER_ERROR = 2
