"""The notice at the top of every chapter: which mode this page ran in, and what its numbers are.

A page executed in smoke mode (CI, ``make book``) shows generated images and a
few seconds of training; its accuracies are noise. The notice says so, and says
where the recorded numbers are. Every chapter shows it right under its title::

    from vitcourse.notice import show_page_notice
    show_page_notice()
"""

from html import escape

from vitcourse.config import REPOSITORY_BRANCH, REPOSITORY_URL, run_mode

RECORDED_URL = f"{REPOSITORY_URL}/blob/{REPOSITORY_BRANCH}/benchmarks/README.md"

_WHAT = {
    "smoke": (
        "This page was executed in smoke mode, the way CI builds the book: generated stand-in "
        "images instead of photographs where a data set is loaded, tiny models, a few seconds "
        "of training. The code is the real code, but the accuracies, losses and predictions "
        "that it prints are those of seconds of training on generated data: they are not "
        "results. Run the chapter in quick mode (Colab, or VITCOURSE_MODE=quick) to see real ones."
    ),
    "quick": (
        "This page runs in quick mode: a real-data subset and short training, minutes on a "
        "CPU. Its accuracies are those of a short run, well below what the same model reaches "
        "with a full budget."
    ),
    "full": (
        "This page runs in full mode: the real data sets and the full recipes, meant for a GPU."
    ),
}


def _extra(extra):
    return f" {extra.strip()}" if extra and extra.strip() else ""


def page_notice(mode=None, extra=None):
    """The notice of a page run in ``mode`` (default: the current run mode), as plain text.

    ``extra``: a sentence this page adds after the mode's description (e.g. that
    pretrained weights cannot be downloaded offline).
    """
    mode = mode or run_mode()
    return (
        f"{mode.capitalize()} mode. {_WHAT[mode]}{_extra(extra)} Numbers computed on this page are this run's "
        f"output, in {mode} mode. Numbers labelled as recorded come from recorded runs "
        f"(command, hardware, time, commit), listed in {RECORDED_URL}."
    )


class PageNotice:
    """Shown as a framed box in Jupyter, Colab and the book; as text elsewhere."""

    def __init__(self, mode=None, extra=None):
        self.mode = mode or run_mode()
        self.extra = extra

    def __repr__(self):
        return page_notice(self.mode, self.extra)

    def _repr_html_(self):
        colour = "#b45309" if self.mode == "smoke" else "#1d4ed8"
        return (
            f'<div class="vitcourse-notice vitcourse-notice-{self.mode}" style="border-left: 6px '
            f'solid {colour}; background: #f8fafc; color: #111827; padding: 0.6em 1em; '
            f'margin: 0.5em 0;"><strong>{self.mode.capitalize()} mode.</strong> '
            f"{escape(_WHAT[self.mode] + _extra(self.extra))} Numbers computed on this page are this run's output, "
            f"in {self.mode} mode. Numbers labelled as recorded come from recorded runs "
            f'(command, hardware, time, commit): <a href="{RECORDED_URL}">the recorded results</a>.'
            "</div>"
        )


def show_page_notice(mode=None, extra=None):
    """Displays the notice of this page's run mode (put it right under the chapter's title).

    ``extra``: an optional sentence about this page, shown after the mode's description.
    """
    from IPython.display import display

    display(PageNotice(mode, extra))
