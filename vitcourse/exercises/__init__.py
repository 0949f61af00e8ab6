"""Checkers for the chapters' exercises, one module per chapter (``ch01``, ``ch02``, ...).

A checker takes the reader's answer (a value or a function), raises an
``AssertionError`` whose message is a hint when it is wrong, and returns a
:class:`Solved` (true, and shown as "Correct: ..." in a notebook) when it is right. Every checker is
unit-tested, with a right and a wrong answer, in ``tests/``.

The student version of a chapter (``python -m vitcourse.student``) replaces each
solution by a stub: a function that raises ``NotImplementedError`` or a value of
``None``. Checkers are wrapped in :func:`checker`, so that a stub gets
:class:`NotAttempted` ("not attempted yet") instead of a traceback.
"""

import functools


class Solved:
    """A right answer: true, and shown in a notebook as one line that says so."""

    def __init__(self, exercise):
        self.exercise = exercise

    def __bool__(self):
        return True

    def __repr__(self):
        return f"Correct: {self.exercise} is solved."


class NotAttempted:
    """A stub still in place of the answer: false, and shown as one line that says what to do."""

    def __init__(self, exercise):
        self.exercise = exercise

    def __bool__(self):
        return False

    def __repr__(self):
        return (
            f"{self.exercise}: not attempted yet. Replace the stub in the cell above "
            "with your answer and run both cells again."
        )


def passed(exercise):
    """The :class:`Solved` of ``exercise``."""
    return Solved(exercise)


def expect(condition, hint):
    """Fails with ``hint`` unless ``condition``."""
    if not condition:
        raise AssertionError(f"Not yet: {hint}")


def checker(exercise):
    """Makes a checker answer :class:`NotAttempted` for a student stub.

    A stub is an answer of ``None`` or a function whose body raises
    ``NotImplementedError``; anything else goes to the checker as it is::

        @checker("Exercise 3.1")
        def check_block_params(count_fn): ...
    """

    def wrap(check):
        @functools.wraps(check)
        def run(*answers, **kwargs):
            if any(answer is None for answer in answers):
                return NotAttempted(exercise)
            try:
                return check(*answers, **kwargs)
            except NotImplementedError:
                return NotAttempted(exercise)

        return run

    return wrap
