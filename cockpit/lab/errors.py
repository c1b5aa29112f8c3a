"""The error the lab's control surface answers with: a verb that cannot be done, and what to
do instead. Apart, so the drills and the control server need not import each other."""


class ControlError(Exception):
    """A verb that cannot be done, with what to do instead."""
