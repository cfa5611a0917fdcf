"""The one exception type that reaches users as a message instead of a traceback."""
from contextlib import contextmanager


class UserError(Exception):
    """A problem with the user's input or set-up, worded for the user.

    The CLI prints it as ``error: <message>`` and exits non-zero; inside ``nnUNetv2_train`` the
    trainers turn it into a clean exit before training starts (:func:`exit_on_user_error`).
    Messages name the file or data set concerned, say what is wrong and, where there is one,
    the command that fixes it.
    """


@contextmanager
def exit_on_user_error():
    """Turn a :class:`UserError` into a clean exit with its message, for code run by nnU-Net's own
    commands (``nnUNetv2_train``), which would otherwise print a traceback."""
    try:
        yield
    except UserError as e:
        raise SystemExit(f"error: {e}") from None
