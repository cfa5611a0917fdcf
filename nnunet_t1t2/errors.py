"""The one exception type that reaches users as a message instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input or set-up, worded for the user.

    The CLI prints it as ``error: <message>`` and exits non-zero; trainers let it propagate so
    that ``nnUNetv2_train`` stops before training starts. Messages name the file or data set
    concerned, say what is wrong and, where there is one, the command that fixes it.
    """
