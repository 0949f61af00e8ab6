"""Checkers for the chapters' exercises, one module per chapter (``ch01``, ``ch02``, ...).

A checker takes the reader's answer (a value or a function), raises an
``AssertionError`` whose message is a hint when it is wrong, and prints a
short confirmation and returns ``True`` when it is right. Every checker is
unit-tested, with a right and a wrong answer, in ``tests/``.
"""


def passed(exercise):
    """Says that ``exercise`` is solved; returns True."""
    print(f"Correct: {exercise} is solved.")
    return True


def expect(condition, hint):
    """Fails with ``hint`` unless ``condition``."""
    if not condition:
        raise AssertionError(f"Not yet: {hint}")
