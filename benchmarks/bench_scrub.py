"""The one scrubber's cost: `scrub` and `may_hold_secret` on a run's texts, and reading the environment.

Issue 26 widened what counts as a secret (every variable whose name holds KEY, SECRET, TOKEN,
PASSWORD, PASSWD, CREDENTIAL(S), AUTH or PRIVATE as a word part, credentials in URLs) and asked
that the scrub stay fast. This script times, in this process (no server: the scrubber is pure):

- `scrub(text)` and `may_hold_secret(text)` on texts of 1 KB (a status line, a tool result),
  20 KB (an answer) and 200 KB (a run's JSON as the history writes it), with no secret in them
  (the common case) and with one, under an environment of 100 variables of which 12 hold
  secrets, plus 0 or 20 registered secrets;
- the first scan of an environment (when its names change) of 100 and 2,000 variables;
- "per run": the scrubs one two-turn run with a tool call costs the history and one display of
  it (the run's JSON once through `may_hold_secret`, the bundle's dozen short strings);
- "per delta": a streamed answer of 2,000 words shown live, each word through `StreamScrubber.feed`.

Each figure is the best CPU time of several repeats (the machine is shared; the best is the
least disturbed). `--module PATH` loads another `_secrets.py` (e.g. main's before a change, from
`git show main:openstackai_nb/_secrets.py > /tmp/old_secrets.py`) so before/after come from one
command:

    .venv/bin/python benchmarks/bench_scrub.py [--quick] [--module /tmp/old_secrets.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import string
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(path: str | None) -> ModuleType:
    if path is None:
        from openstackai_nb import _secrets

        return _secrets
    spec = importlib.util.spec_from_file_location("old_secrets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(fn: Any, arg: Any, number: int, repeat: int) -> float:
    """Best CPU time per call (seconds) over `repeat` rounds of `number` calls.

    CPU time of this process, not wall time: on a shared, oversubscribed machine the wall clock
    also counts the time other jobs held the core.
    """
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(number):
            fn(arg)
        times.append((time.process_time() - t0) / number)
    return min(times)


def prose(size: int, rng: random.Random) -> str:
    words = ["the", "model", "answered", "with", "a", "table", "of", "results", "and", "tool", "calls",
             "Paris", "2024-01-05", "lookup(city)", '{"temp": 21}', "https://example.com/docs?page=2"]  # fmt: skip
    out: list[str] = []
    n = 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


def environment(n: int, rng: random.Random) -> dict[str, str]:
    """`n` variables like a developer's shell: mostly paths and flags, 12 (or n/8) secret-named."""
    env: dict[str, str] = {}
    secret_names = ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN", "HF_TOKEN", "OPENAI_API_KEY",
                    "ANTHROPIC_API_KEY", "DB_PASSWORD", "SlackAuthToken", "STRIPE_SECRET", "NPM_AUTH",
                    "SENTRY_AUTH_TOKEN", "PGPASSWORD"]  # fmt: skip
    for name in secret_names[: max(1, min(len(secret_names), n // 8))]:
        env[name] = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
    i = 0
    while len(env) < n:
        kind = i % 4
        prefix = rng.choice(["APP", "XDG", "CONDA", "JUPYTER", "LC", "PYTHON"])
        name = f"{prefix}_{rng.choice(['HOME', 'PATH', 'DIR', 'MODE', 'LEVEL', 'KEYBOARD'])}_{i}"
        env[name] = ["/usr/local/share/x", "1", "true", "en_US.UTF-8"][kind]
        i += 1
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--module", help="another _secrets.py to time (e.g. main's, for before/after)")
    args = parser.parse_args()
    number, repeat = (20, 3) if args.quick else (200, 7)
    rng = random.Random(26)

    for key in [k for k in os.environ if k.upper().endswith(("KEY", "TOKEN", "SECRET", "PASSWORD"))]:
        del os.environ[key]
    os.environ.update(environment(100, rng))
    s = load(args.module)
    print(f"# _secrets from {args.module or 'openstackai_nb._secrets (this tree)'}; best of {repeat} x {number}")
    print(f"# load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    texts = {size: prose(size, rng) for size in (1_000, 20_000, 200_000)}
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    print("\n| registered | text | scrub, no secret | scrub, one secret | may_hold_secret, no secret |")
    print("|---:|---:|---:|---:|---:|")
    for registered in (0, 20):
        for i in range(registered):
            s.register_secret(f"registered-secret-{i:03d}-" + "x" * 12)
        for size, text in texts.items():
            with_one = text[: size // 2] + " " + secret + " " + text[size // 2 :]
            n = max(3, number // (size // 1000))
            clean = best(s.scrub, text, n, repeat)
            dirty = best(s.scrub, with_one, n, repeat)
            check = best(s.may_hold_secret, text, n, repeat)
            print(
                f"| {registered} | {size // 1000} KB | {clean * 1e6:,.1f} µs | {dirty * 1e6:,.1f} µs "
                f"| {check * 1e6:,.1f} µs |"
            )

    # Per run: the history's JSON once through may_hold_secret (+ scrub when it says so, rare),
    # and a display's dozen short strings (status line, input, answer, error, tool row cells).
    run_json, shorts = texts[20_000], [texts[1_000][:80]] * 12
    per_run = best(lambda _: (s.may_hold_secret(run_json), [s.scrub(x) for x in shorts]), None, number, repeat)
    print(f"\nper run (history JSON 20 KB checked + 12 display strings scrubbed): {per_run * 1e6:,.1f} µs")

    # A streamed answer in a live view: every delta (a word) through StreamScrubber.feed.
    words = [w + " " for w in texts[20_000].split()][:2_000]

    def stream(_: Any) -> None:
        scrubber = s.StreamScrubber()
        for word in words:
            scrubber.feed(word)
        scrubber.feed("", final=True)

    per_delta = best(stream, None, max(1, number // 20), repeat) / len(words)
    print(
        f"streamed answer in a view ({len(words):,} word deltas through StreamScrubber): "
        f"{per_delta * 1e6:,.2f} µs per delta"
    )

    env_funcs = [getattr(s, "_env_secrets", None)]
    if env_funcs[0] is not None:
        for n in (100, 2_000):
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(environment(n, rng))
            cold = []
            for r in range(repeat):
                os.environ[f"CHANGE_{r}"] = "x"  # a new name: the next call scans every name again
                t0 = time.process_time()
                env_funcs[0]()
                cold.append(time.process_time() - t0)
            warm = best(lambda _: env_funcs[0](), None, number, repeat)
            os.environ.clear()
            os.environ.update(saved)
            print(
                f"environment of {n:,} variables: first scan {min(cold) * 1e6:,.0f} µs, "
                f"then {warm * 1e6:,.2f} µs per scrub"
            )


if __name__ == "__main__":
    main()
