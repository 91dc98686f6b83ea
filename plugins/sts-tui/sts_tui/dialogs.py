"""Modal screens: confirm before removing a job, and the key help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from . import format as fmt

HELP = """\
[b]Keys[/b]

  [b]↑ ↓[/b]      move between jobs
  [b]enter[/b]    the job's detail: recent runs, next fire times
  [b]r[/b]        run the job now (like [i]sts trigger JOB[/i])
  [b]p[/b]        pause or resume the job (like [i]sts pause/resume JOB[/i])
  [b]x[/b]        remove the job, after you confirm
  [b]/[/b]        filter jobs by name ([b]esc[/b] clears the filter)
  [b]s[/b]        sort by the next column: name, next fire, failures, mean duration
  [b]z[/b]        times in the scheduler's zone, each job's zone, or UTC
  [b]t[/b]        the timeline: fires across 1 h / 24 h / 7 d ([b]-[/b] [b]+[/b] zoom)
  [b]?[/b]        this help
  [b]q[/b]        quit (a scheduler started by [i]sts run --tui[/i] stops with it)

Every action goes through the scheduler's control socket, with the same
commands as the [i]sts[/i] command line. When the scheduler stops, this screen
says so and reconnects by itself once it is back.
"""


class ConfirmRemove(ModalScreen[bool]):
    """Asks before removing a job; answers ``True`` to remove."""

    BINDINGS = [
        Binding("y", "answer(True)", "Remove"),
        Binding("n,escape", "answer(False)", "Keep"),
    ]

    def __init__(self, job: str) -> None:
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                Text.assemble(
                    "Remove the job ", fmt.plain(self.job, "bold"), " from the running scheduler?"
                )
            )
            yield Label("Its stored state and history go with it. Runs under way finish.")
            with Horizontal(id="dialog-buttons"):
                yield Button("Remove (y)", variant="error", id="remove")
                yield Button("Keep (n)", variant="primary", id="keep")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "remove")

    def action_answer(self, remove: bool) -> None:
        self.dismiss(remove)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(HELP.rstrip())
