"""The chat's *Goal* dialog: a notebook's chat goal (default, learning guide, custom instructions) and its
response length (shorter, default, longer).

It only collects and checks what the user chose (core.chat_goals, the same checks as
``notebooklm-local chat-goal set``); the chat panel stores it with the notebook. The custom instructions
show a live character count against the 10,000-character limit and say what is wrong (empty, too long)
while OK stays disabled. Whatever they say, answers keep citing: the dialog says so, the prompt template
quotes the instructions as data before the citation rules, and the answer checker requires citations.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.chat_goals import (
    GOAL_LABELS,
    GOALS,
    LENGTHS,
    MAX_PERSONA_CHARS,
    ChatGoal,
    ChatGoalError,
    clean_persona,
    persona_problem,
    validate_goal,
)
from notebooklm_local.ui.theme import css

__all__ = ["ChatGoalDialog", "GOAL_HELP"]

GOAL_HELP = {
    "default": "A careful research assistant: concise answers, every sentence cited.",
    "learning": "A learning guide: explains step by step and ends with a question that checks your understanding.",
    "custom": "Your own instructions: a role, an audience, a tone or a focus.",
}
LENGTH_TEXT = {"shorter": "Shorter", "default": "Default", "longer": "Longer"}
PERSONA_PLACEHOLDER = ("For example: Answer as a patient tutor for a first-year biology student. Use short "
                       "sentences, define every technical term, and point out common misconceptions.")
CITE_NOTE = ("These instructions change tone and focus only: every answer still cites your sources, and "
             "instructions to stop citing or to use outside knowledge are ignored.")


class ChatGoalDialog(QDialog):
    """Pick a goal and a response length; ``chosen`` holds the checked ChatGoal after OK."""

    def __init__(self, goal: ChatGoal | None = None, notebook_name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat-goal-dialog")
        self.setWindowTitle(f"Chat goal \u2014 {notebook_name}" if notebook_name else "Chat goal")
        self.setAccessibleName("Chat goal")
        self.initial = goal or ChatGoal()
        self.chosen: ChatGoal | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("How the chat answers in this notebook. Your sources are always cited, whatever the goal.")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        box = QGroupBox("Goal")
        box_layout = QVBoxLayout(box)
        self.goal_group = QButtonGroup(self)
        self.goal_buttons: dict[str, QRadioButton] = {}
        for i, g in enumerate(GOALS):
            b = QRadioButton(GOAL_LABELS[g])
            b.setObjectName(f"chat-goal-{g}")
            b.setAccessibleName(f"Goal: {GOAL_LABELS[g]}")
            b.setToolTip(GOAL_HELP[g])
            self.goal_group.addButton(b, i)
            self.goal_buttons[g] = b
            help_label = QLabel(GOAL_HELP[g])
            help_label.setWordWrap(True)
            help_label.setContentsMargins(24, 0, 0, 4)
            help_label.setStyleSheet(f"color: {css('muted')}")
            box_layout.addWidget(b)
            box_layout.addWidget(help_label)
        self.persona_edit = QPlainTextEdit()
        self.persona_edit.setObjectName("chat-goal-persona")
        self.persona_edit.setAccessibleName("Custom instructions")
        self.persona_edit.setPlaceholderText(PERSONA_PLACEHOLDER)
        self.persona_edit.setTabChangesFocus(True)
        self.persona_edit.setMinimumHeight(110)
        self.persona_edit.setPlainText(self.initial.persona)
        box_layout.addWidget(self.persona_edit)
        counts = QHBoxLayout()
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("chat-goal-problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {css('error')}")
        self.count_label = QLabel("")
        self.count_label.setObjectName("chat-goal-count")
        counts.addWidget(self.problem_label, 1)
        counts.addWidget(self.count_label)
        box_layout.addLayout(counts)
        self.cite_note = QLabel(CITE_NOTE)
        self.cite_note.setObjectName("chat-goal-cite-note")
        self.cite_note.setWordWrap(True)
        box_layout.addWidget(self.cite_note)
        layout.addWidget(box)

        lbox = QGroupBox("Response length")
        lrow = QHBoxLayout(lbox)
        self.length_group = QButtonGroup(self)
        self.length_buttons: dict[str, QRadioButton] = {}
        for i, n in enumerate(LENGTHS):
            b = QRadioButton(LENGTH_TEXT[n])
            b.setObjectName(f"chat-length-{n}")
            b.setAccessibleName(f"Response length: {LENGTH_TEXT[n]}")
            self.length_group.addButton(b, i)
            self.length_buttons[n] = b
            lrow.addWidget(b)
        lrow.addStretch(1)
        layout.addWidget(lbox)
        hint = QLabel("Shorter and longer also change how many quotes the model-free Quotes answers give.")
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {css('muted')}")
        layout.addWidget(hint)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.goal_buttons.get(self.initial.goal, self.goal_buttons["default"]).setChecked(True)
        self.length_buttons.get(self.initial.length, self.length_buttons["default"]).setChecked(True)
        self.goal_group.idToggled.connect(self._on_goal_toggled)
        self.persona_edit.textChanged.connect(self._update)
        self.resize(560, 560)
        self._update()

    # -- state ---------------------------------------------------------------------------------------

    def goal_name(self) -> str:
        return GOALS[max(0, self.goal_group.checkedId())]

    def length(self) -> str:
        return LENGTHS[max(0, self.length_group.checkedId())]

    def persona(self) -> str:
        """The instructions as they would be stored (control characters stripped)."""
        return clean_persona(self.persona_edit.toPlainText())

    def problem(self) -> str:
        """What keeps OK disabled ("" when the choice can be stored)."""
        return persona_problem(self.goal_name(), self.persona())

    def set_goal(self, goal: str) -> None:
        self.goal_buttons[goal].setChecked(True)

    def set_length(self, length: str) -> None:
        self.length_buttons[length].setChecked(True)

    # -- slots --------------------------------------------------------------------------------------

    @Slot(int, bool)
    def _on_goal_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self._update()
            if self.goal_name() == "custom":
                self.persona_edit.setFocus()

    @Slot()
    def _update(self) -> None:
        custom = self.goal_name() == "custom"
        self.persona_edit.setEnabled(custom)
        self.cite_note.setVisible(custom)
        n = len(self.persona())
        self.count_label.setText(f"{n:,} / {MAX_PERSONA_CHARS:,} characters")
        problem = self.problem()
        if not problem and not custom and n > MAX_PERSONA_CHARS:
            problem = persona_problem("custom", self.persona())  # kept for later, so still bounded
        self.problem_label.setText(f"\u26a0 {problem}" if problem else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)

    def accept(self) -> None:
        try:
            self.chosen = validate_goal(self.goal_name(), self.persona(), self.length())
        except ChatGoalError as e:
            self.problem_label.setText(f"\u26a0 {e}")
            return
        super().accept()
