"""The built-in text-to-speech engine: the ``espeak-ng`` program (offline, robotic, everywhere).

Text goes to espeak-ng on stdin (``--stdin``), never on the command line, so a line such as
"--help" is spoken rather than read as an option; SSML is off (no ``-m``). The WAV it writes to
stdout is parsed in memory (``core.tts.parse_wav``: its header sizes are placeholders on a pipe).
The two podcast hosts get the ``+m3`` and ``+f3`` variants of one language voice: a male voice
(median F0 near 105 Hz) and a female one (near 210 Hz), clearly apart.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from typing import NamedTuple

from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.tts import TTSError, TTSUnavailable, Voice, parse_wav
from notebooklm_local.services.tts.process import run_process

__all__ = ["EspeakEngine", "INSTALL_HINT"]

log = logging.getLogger(__name__)

INSTALL_HINT = ("install it with `sudo apt install espeak-ng` (Debian/Ubuntu), `brew install espeak-ng` "
                "(macOS) or from https://github.com/espeak-ng/espeak-ng/releases (Windows)")

# the voice variants offered per language voice (espeak-ng-data/voices/!v); m3/f3 are the host pair
HOST_VARIANTS = ("m3", "f3")
_OFFERED_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
# for these language requests espeak's own first choice is not the one most listeners expect
_PREFERRED = {"": "en-us", "en": "en-us", "english": "en-us"}
_MIN_WPM, _MAX_WPM = 80, 450  # espeak-ng's usable speaking-rate range
# " 5  cmn  --/M  Chinese_(Mandarin,_latin_as_English) sit/cmn  (zh-cmn 5)(zh 5)"
_VOICE_LINE = re.compile(r"\s*(?P<pty>\d+)\s+(?P<lang>\S+)\s+(?P<gender>\S+)\s+(?P<name>\S+)\s+(?P<file>\S+)(?P<others>.*)$")
_OTHER_LANG = re.compile(r"\((\S+) (\d+)\)")


class _Base(NamedTuple):
    voice: Voice
    priority: int
    others: dict[str, int]  # other language codes this voice serves -> espeak's priority for them


class EspeakEngine:
    """espeak-ng through its command line. Thread-safe; one subprocess per call."""

    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng") -> None:
        self.binary = binary
        # calls are independent processes, each partly spent starting up: render_dialogue may speak
        # this many lines at once (one more than the cores hides the start-up latency; measured)
        self.max_parallel = min(4, (os.cpu_count() or 1) + 1)
        self._path: str | None = None  # resolved executable once it has answered --version
        self.version = ""
        self._lock = threading.Lock()
        self._base: list[_Base] | None = None
        self._variants: list[Voice] | None = None

    def __repr__(self) -> str:
        return f"EspeakEngine({self.binary!r})"

    # --- availability ---------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        if self._path:
            return None
        path = shutil.which(self.binary)
        if not path:
            return f"{self.binary} is not installed: {INSTALL_HINT}."
        try:
            out = subprocess.run([path, "--version"], capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as e:
            return f"{self.binary} ({path}) does not run: {e}. Reinstall it: {INSTALL_HINT}."
        text = (out.stdout or out.stderr).decode("utf-8", "replace").strip()
        if out.returncode != 0:
            first = text.splitlines()[0] if text else f"exit code {out.returncode}"
            return f"{self.binary} ({path}) does not run: {first}. Reinstall it: {INSTALL_HINT}."
        self.version = text.splitlines()[0] if text else ""
        self._path = path
        return None

    def _exe(self) -> str:
        reason = self.unavailable_reason()
        if reason:
            raise TTSUnavailable(reason)
        assert self._path is not None
        return self._path

    # --- voices -----------------------------------------------------------------------------------

    def _list(self, arg: str) -> list[tuple[int, str, str, str, str, dict[str, int]]]:
        """Rows of ``espeak-ng --voices[=...]``: (priority, language, age/gender, name, file, other languages)."""
        rc, out, err = run_process([self._exe(), arg], timeout=30, what="espeak-ng --voices")
        if rc != 0:
            raise TTSError(f"espeak-ng could not list its voices: {err.decode('utf-8', 'replace').strip()}")
        rows = []
        for line in out.decode("utf-8", "replace").splitlines()[1:]:  # the first line is the header
            m = _VOICE_LINE.match(line)
            if m:
                others = {lang.lower(): int(p) for lang, p in _OTHER_LANG.findall(m["others"])}
                rows.append((int(m["pty"]), m["lang"], m["gender"], m["name"], m["file"], others))
        return rows

    def _load(self) -> tuple[list[_Base], list[Voice]]:
        with self._lock:
            if self._base is None or self._variants is None:
                rows = [r for r in self._list("--voices") if not r[4].startswith("mb/")]
                # MBROLA voices (mb/...) are left out: they need the separate mbrola program and data
                codes = [r[1] for r in rows]
                base = []
                for pty, lang, gender, vname, vfile, others in rows:
                    # a language with two voice files (yue) is told apart by the file, which -v accepts too
                    vid = lang if codes.count(lang) == 1 else vfile
                    base.append(_Base(Voice(vid, vname.replace("_", " "), lang, _gender(gender)), pty, others))
                variants = []
                for _pty, _lang, gender, vname, vfile, _others in self._list("--voices=variant"):
                    vid = vfile.split("/", 1)[-1]
                    if vid in _OFFERED_VARIANTS:
                        variants.append(Voice(vid, vname.replace("_", " "), "", _gender(gender)))
                self._base, self._variants = base, variants
            return self._base, self._variants

    def _matching(self, language: str) -> list[Voice]:
        """Voices for a language code ("fr", "en-gb", "zh") or name ("French"), best first."""
        base, _ = self._load()
        want = _norm(language)
        if not want:
            return [b.voice for b in base]
        scored = []
        for b in base:
            code = b.voice.language.lower()
            if code == want:
                scored.append((0, b.priority, b.voice.id, b.voice))
            elif want in b.others:  # espeak's own "other languages" column, with its priority
                scored.append((1, b.others[want], b.voice.id, b.voice))
            elif code.startswith(want + "-"):
                scored.append((2, b.priority, b.voice.id, b.voice))
        if not scored:
            # a language name: "French", "english (us)" -> the code of the first voice so named
            first_word = want.replace("(", " ").split()[0]
            for b in base:
                if b.voice.name.lower().split(" ")[0] == first_word:
                    return self._matching(b.voice.language.split("-")[0])
        return [v for *_, v in sorted(scored, key=lambda t: t[:3])]

    def voices(self, language: str = "") -> list[Voice]:
        """Language voices; with a language also their male/female variants ("en-us+f3")."""
        matching = self._matching(language)
        if not language.strip():
            return matching
        _, variants = self._load()
        out = list(matching)
        for v in matching:
            out += [Voice(f"{v.id}+{x.id}", f"{v.name}, {x.name}", v.language, x.gender) for x in variants]
        return out

    def default_voices(self, language: str = "") -> tuple[str, str]:
        """A male and a female variant of the language's first voice (English when none matches)."""
        want = _norm(language)
        base = _PREFERRED.get(want) or _PREFERRED.get(want.replace("(", " ").split()[0] if want else "")
        if base is None:
            matching = self._matching(language)
            if matching:
                base = matching[0].id
            else:
                log.warning("espeak-ng has no voice for language %r; using English voices", language)
                base = "en-us"
        return f"{base}+{HOST_VARIANTS[0]}", f"{base}+{HOST_VARIANTS[1]}"

    # --- speech -----------------------------------------------------------------------------------

    def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                   cancel: CancelToken | None = None) -> tuple[bytes, int]:
        voice = (voice or "").strip() or self.default_voices()[0]
        if voice.startswith("-") or any(c.isspace() for c in voice):
            raise TTSError(f"{voice!r} is not an espeak-ng voice name.")
        rate = max(_MIN_WPM, min(_MAX_WPM, int(rate_wpm)))
        data = text.encode("utf-8", "replace")
        # -b 1: the input is UTF-8; -z: no extra sentence pause at the end (the renderer adds pauses);
        # generous but bounded: espeak speaks ~30x faster than real time even on a slow CPU
        cmd = [self._exe(), "--stdin", "-b", "1", "-z", "-v", voice, "-s", str(rate), "--stdout"]
        rc, out, err = run_process(cmd, input=data, timeout=60 + len(data) / 40, cancel=cancel, what="espeak-ng")
        msg = err.decode("utf-8", "replace").strip()
        if rc != 0 or not out:
            if "voice does not exist" in msg.lower():
                raise TTSError(f"espeak-ng has no voice {voice!r}; pick one listed by `espeak-ng --voices` "
                               "(a language code such as en-us, optionally with a variant such as +f3).")
            raise TTSError(f"espeak-ng failed (exit code {rc}): {msg or 'no audio produced'}")
        return parse_wav(out)


def _gender(age_gender: str) -> str:
    g = age_gender.rsplit("/", 1)[-1].upper()
    return {"M": "male", "F": "female"}.get(g, "")


def _norm(language: str) -> str:
    return " ".join((language or "").strip().lower().replace("_", "-").split())
