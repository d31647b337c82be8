"""How the scripted model follows an agent's instructions: a few visible, deterministic rules.

The instructions (the system messages) are read for these words, case-insensitively, as whole
words; several rules combine (e.g. brief + French + uppercase):

- **brevity**: "terse", "brief", "briefly", "short", "one line", "one sentence" ->
  the answer is one sentence on one line (the tools' results joined by ";", or "You asked: ...");
- **detail**: "say more", "detailed", "in detail", "explain", "elaborate", "verbose",
  "thorough" -> the usual answer plus a paragraph that explains how it was made (brevity wins
  when the instructions ask for both);
- **French**: "French", "français" -> the model's own sentences in French (what tools returned
  and the prompt it quotes stay as they are);
- **upper case**: "uppercase", "upper case", "all caps", "capitals", "shout" -> the whole
  answer upper-cased.

"Concise" is deliberately not a brevity word: notebook 03 records a "concise travel helper"
whose answers, and the cassette committed beside it, have the usual form. A prompt that asks for
"N words" still gets exactly N words (the length rules leave it alone; upper case applies).
Typed answers (JSON) are never restyled. Instructions with none of these words give the answers
the scripted model always gave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Style"]

_BRIEF = re.compile(r"\b(terse|brief|briefly|short|one[ -]line|one sentence)\b", re.IGNORECASE)
_DETAIL = re.compile(r"\b(say more|detailed|in detail|explain\w*|elaborate|verbose|thorough\w*)\b", re.IGNORECASE)
_FRENCH = re.compile(r"\b(french|fran[cç]ais)\b", re.IGNORECASE)
_UPPER = re.compile(r"\b(upper[ -]?case|all caps|capitals|shout\w*)\b", re.IGNORECASE)

_PHRASES = {
    "en": {
        "found": "Here is what the tools found:",
        "returned": "returned:",
        "done": "Done.",
        "how": (
            "How I got there: I called {n} tool{s} ({names}) with arguments taken from your question, "
            "and each line above is what a tool returned, word for word. Ask again with other names "
            "or numbers to get other calls."
        ),
        "asked": "You asked:",
        "offline": (
            "This answer comes from the offline *scripted* model "
            "(set `OPENAI_API_KEY` or `OPENAI_BASE_URL` to use a real one)."
        ),
        "more": (
            "In more detail: your message has {words} word{ws} and {chars} characters. The scripted "
            "model does not understand it: it repeats it, calls the tools it mentions and follows a "
            "few instructions (brief, detailed, French, uppercase), so that a comparison of agents "
            "shows differences offline."
        ),
    },
    "fr": {
        "found": "Voici ce que les outils ont trouvé :",
        "returned": "a renvoyé :",
        "done": "Terminé.",
        "how": (
            "Comment j'y suis arrivé : j'ai appelé {n} outil{s} ({names}) avec des arguments tirés de "
            "votre question, et chaque ligne ci-dessus est ce qu'un outil a renvoyé, mot pour mot. "
            "Reposez la question avec d'autres noms ou nombres pour obtenir d'autres appels."
        ),
        "asked": "Vous avez demandé :",
        "offline": (
            "Cette réponse vient du modèle *scripted* hors ligne "
            "(définissez `OPENAI_API_KEY` ou `OPENAI_BASE_URL` pour en utiliser un vrai)."
        ),
        "more": (
            "Plus en détail : votre message compte {words} mot{ws} et {chars} caractères. Le modèle "
            "scripted ne le comprend pas : il le répète, appelle les outils qu'il mentionne et suit "
            "quelques consignes (bref, détaillé, français, majuscules), pour qu'une comparaison "
            "d'agents montre des différences hors ligne."
        ),
    },
}


@dataclass(frozen=True, slots=True)
class Style:
    """What the instructions ask of the answer's form (the rules in the module's docs)."""

    length: Literal["short", "normal", "long"] = "normal"
    french: bool = False
    upper: bool = False

    @classmethod
    def of(cls, instructions: Iterable[str]) -> Style:
        """The style asked for by the instructions (system messages' texts)."""
        text = "\n".join(instructions)
        length: Literal["short", "normal", "long"] = (
            "short" if _BRIEF.search(text) else "long" if _DETAIL.search(text) else "normal"
        )
        return cls(length=length, french=bool(_FRENCH.search(text)), upper=bool(_UPPER.search(text)))

    def _say(self, key: str, **values: object) -> str:
        return _PHRASES["fr" if self.french else "en"][key].format(**values)

    def _cased(self, text: str) -> str:
        return text.upper() if self.upper else text

    def tools_answer(self, results: Sequence[tuple[str, str]]) -> str:
        """The answer after tool calls: each tool's name and what it returned."""
        if self.length == "short":
            parts = [f"{name}: {' '.join(content.split())}".rstrip(".") for name, content in results]
            return self._cased("; ".join(parts) + ".")
        lines = [f"- **{name}** {self._say('returned')} {content}" for name, content in results]
        text = self._say("found") + "\n\n" + "\n".join(lines)
        if self.length == "long":
            names = ", ".join(dict.fromkeys(name for name, _ in results))
            n = len(results)
            text += "\n\n" + self._say("how", n=n, s="" if n == 1 else "s", names=names)
        return self._cased(text + "\n\n" + self._say("done"))

    def echo_answer(self, summary: str) -> str:
        """The answer to a prompt it cannot answer: the prompt quoted back."""
        asked = f"{self._say('asked')} {summary}"
        if self.length == "short":
            return self._cased(asked)
        text = asked + "\n\n" + self._say("offline")
        if self.length == "long":
            words = len(summary.split())
            text += "\n\n" + self._say("more", words=words, ws="" if words == 1 else "s", chars=len(summary))
        return self._cased(text)

    def words_answer(self, text: str) -> str:
        """A text of the exact length the prompt asked for: only its case changes."""
        return self._cased(text)
