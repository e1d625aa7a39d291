"""Screenshot of the audio overview formats panel (issue 15 item 3): the studio pane's Podcast tab with the
Brief format chosen (its description under the selector, one narrator), a brief written by a scripted engine
(every line cited, "Regenerate segment" beside each heading), its audio made and "Re-voice" beside it:
studio-audio-formats.png; and the Debate format chosen (two hosts, for and against):
studio-audio-formats-debate.png. ``theme`` "dark" adds "-dark" to the names.

Run: scripts/screenshots.sh --audio-formats [--dark]   (screenshots.py dispatches here)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from screenshots import OUT, REPO, _grabber, _settle

BRIEF = [
    {"title": "Small models in a minute", "segments": [{"topic": "Fewer bits, smaller files", "passages": [1]},
                                                     {"topic": "Running on a laptop", "passages": [1]}]},
    {"lines": [{"speaker": "Nova", "text": "Quantization stores model weights in fewer bits.", "citations": [1]},
               {"speaker": "Nova", "text": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.",
                "citations": [1]},
               {"speaker": "Nova", "text": "Smaller files load faster, but quality drops a little compared with "
                                           "FP16 weights.", "citations": [1]}]},
    {"lines": [{"speaker": "Nova", "text": "Gemma 3 270M is a small model released by Google in 2025.",
                "citations": [1]},
               {"speaker": "Nova", "text": "It runs on a laptop CPU with 2 cores.", "citations": [1]},
               {"speaker": "Nova", "text": "The GGUF file format keeps the weights and the tokenizer in one file.",
                "citations": [1]}]},
]


def audio_formats(theme: str = "light") -> int:
    os.environ.setdefault("NOTEBOOKLM_LOCAL_HOME", tempfile.mkdtemp(prefix="nbl-shots-"))
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(REPO))
    import notebooklm_local.ui.studio.podcast_tab as podcast_tab
    from notebooklm_local.ui.application import create_application
    from notebooklm_local.ui.theme import apply_theme
    from notebooklm_local.ui.workers import Lanes
    from tests.helpers.studio_world import make_world

    _app = create_application()  # kept: the QApplication lives as long as this reference
    apply_theme(_app, theme)
    world = make_world(Path(tempfile.mkdtemp(prefix="nbl-shots-docs-")), delay=0.001)
    lanes = Lanes()
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    grab = _grabber(shots, "" if theme == "light" else f"-{theme}")
    podcast_tab.multimedia_available = lambda: (False, "no audio device in the screenshot's X server")

    from notebooklm_local.ui.studio.pane import StudioPane

    pane = StudioPane(lanes, lambda: world.studio, settings=world.settings, tts_engines=lambda: world.tts,
                       library_getter=lambda: world.library)
    pane.setWindowTitle("Studio \u2014 Quantization notes")
    pane.resize(620, 900)
    pane.move(0, 0)
    pane.show()
    pane.set_notebook(world.notebook_id, [world.source_id])
    tab = pane.podcast_tab
    pane.tabs.setCurrentWidget(tab)

    def idle() -> bool:
        return not pane.busy

    tab.format_box.setCurrentIndex(tab.format_box.findData("brief"))
    tab.host_a.setText("Nova")
    tab.length_box.setCurrentIndex(tab.length_box.findData("short"))
    tab.language_edit.setText("English")
    tab.focus_edit.setText("running models on a laptop")
    world.engine.outputs = list(BRIEF)
    tab.generate_button.click()
    _settle(idle)
    _settle(lambda: tab.audio_button.isEnabled())
    tab.audio_button.click()
    _settle(idle)
    grab(pane, "studio-audio-formats.png")

    tab.format_box.setCurrentIndex(tab.format_box.findData("debate"))
    tab.host_a.setText("Alex")
    tab.host_b.setText("Sam")
    _settle(idle=0.5)
    grab(pane, "studio-audio-formats-debate.png")

    pane.close()
    lanes.shutdown(5000)
    QApplication.processEvents()
    for s in shots:
        print(s)
    return 0 if len(shots) == 2 else 1
