"""Checkers for the chapters' exercises, one module per chapter (``ch01``, ``ch02``, ...).

A checker takes the reader's answer (a value or a function), raises an
``AssertionError`` whose message is a hint when it is wrong, and returns a
:class:`Solved` (true, and shown as "Correct: ..." in a notebook) when it is right. Every checker is
unit-tested, with a right and a wrong answer, in ``tests/``.
"""


class Solved:
    """A right answer: true, and shown in a notebook as one line that says so."""

    def __init__(self, exercise):
        self.exercise = exercise

    def __bool__(self):
        return True

    def __repr__(self):
        return f"Correct: {self.exercise} is solved."


def passed(exercise):
    """The :class:`Solved` of ``exercise``."""
    return Solved(exercise)


def expect(condition, hint):
    """Fails with ``hint`` unless ``condition``."""
    if not condition:
        raise AssertionError(f"Not yet: {hint}")
