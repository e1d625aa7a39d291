"""Screenshots of the chat goal (issue 15 item 4) in the real window on the sample notebook: the chat header
showing a custom goal (chat-goal-header.png), the Goal dialog with custom instructions (chat-goal.png) and the
dialog refusing empty instructions (chat-goal-error.png); ``theme`` "dark" adds "-dark" to the names.

Run: scripts/screenshots.sh --chat-goal [--dark]   (screenshots.py dispatches here)
"""

from __future__ import annotations

from screenshots import OUT, _sample_window, _settle

PERSONA = ("Answer as a patient tutor for a first-year student who is new to machine learning.\n"
           "Use short sentences, define every technical term the first time you use it, and point out one "
           "common misconception when the sources mention it.")


def chat_goal(theme: str = "light") -> int:
    from PySide6.QtWidgets import QApplication

    from notebooklm_local.core.chat_goals import set_notebook_goal

    suffix = "" if theme == "light" else f"-{theme}"
    win = _sample_window(theme)
    _settle(lambda: win.chat_pane.notebook_id is not None and win.library is not None, timeout=60)
    panel = win.chat_pane
    set_notebook_goal(win.library, panel.notebook_id, "custom", PERSONA, "longer")
    panel.load_goal()
    _settle(lambda: panel.goal_button.full_text().startswith("Goal: Custom"), timeout=30)
    _settle(idle=1.5)
    OUT.mkdir(parents=True, exist_ok=True)
    shots = []
    target = OUT / f"chat-goal-header{suffix}.png"
    QApplication.primaryScreen().grabWindow(0, 0, 0, 1280, 800).save(str(target))
    shots.append(target)

    panel.open_goal_dialog()
    dialog = panel.goal_dialog
    _settle(lambda: dialog.isVisible(), timeout=10)
    dialog.persona_edit.setFocus()
    _settle(idle=1.0)
    target = OUT / f"chat-goal{suffix}.png"
    dialog.grab().save(str(target))
    shots.append(target)

    dialog.persona_edit.setPlainText("")
    _settle(idle=0.8)
    target = OUT / f"chat-goal-error{suffix}.png"
    dialog.grab().save(str(target))
    shots.append(target)
    dialog.reject()
    win.close()
    for s in shots:
        print(s)
    return 0 if all(s.is_file() for s in shots) else 1
