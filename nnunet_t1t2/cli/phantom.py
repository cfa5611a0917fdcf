"""PLACEHOLDER: replaced by the real verb while the project is being built."""
from nnunet_t1t2.errors import UserError

HELP = "(not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise UserError("this verb is not built yet")
