"""The CSS of a run's view, shared by the static copy (a `<style>` in its HTML) and the live widget.

One stylesheet for both, so the live view and the static copy that replaces it look the same
(the live widget also wraps its view in JupyterLab's `jp-RenderedHTMLCommon`, the class of every
HTML output, so the host's own rules apply to both alike).

Themes: every colour is a JupyterLab CSS variable (`--jp-*`) with a fallback; text keeps the
host's colour (`inherit`), dimmed parts use opacity, borders and code backgrounds are translucent
grey, and the fallback colours (status, syntax) have a contrast of about 3.5:1 or more on white
and on a dark (#1e1e1e) background. So the view is legible in JupyterLab's light and dark themes,
Notebook 7 and VS Code, and, with no CSS at all (GitHub strips it), as plain HTML.
"""

from __future__ import annotations

__all__ = ["CODE_CSS", "SYNTAX_CLASSES", "VIEW_CSS", "style_tag"]

_BORDER = "var(--jp-border-color2,rgba(128,128,128,.35))"
_CODE_BG = "var(--jp-cell-editor-background,rgba(128,128,128,.12))"
_OK = "var(--osnb-ok)"
_ERROR = "var(--osnb-error)"
_WARN = "var(--osnb-warn)"
_BRAND = "var(--osnb-brand)"
_LINK = "var(--jp-content-link-color,var(--vscode-textLink-foreground,var(--osnb-brand)))"

# State colours (the status word, tool statuses, the blocked-loop note) are text, so they must
# read at 4.5:1: JupyterLab's --jp-success/warn-color1 do not on white. They follow the host's
# theme flag instead (JupyterLab and Notebook 7 set data-jp-theme-light on <body>, VS Code a
# vscode-light/vscode-dark class), with mid-tone fallbacks for any other host.
_LIGHT = "--osnb-ok:#1a7f37;--osnb-error:#cf222e;--osnb-warn:#9a6700;--osnb-brand:#0969da"
_DARK = "--osnb-ok:#3fb950;--osnb-error:#f85149;--osnb-warn:#d29922;--osnb-brand:#58a6ff"
_MID = "--osnb-ok:#2e9a4a;--osnb-error:#d1453b;--osnb-warn:#b7791f;--osnb-brand:#3b82d6"
_MONO = "var(--jp-code-font-family,SFMono-Regular,Menlo,Consolas,monospace)"

_V = ".osnb-view"
_MD = ".osnb-view .osnb-md"
_T = ".osnb-view table.osnb-tools"

VIEW_CSS = "".join(
    [
        f"{_V}{{{_MID}}}",
        f"[data-jp-theme-light=true] {_V},.vscode-light {_V}{{{_LIGHT}}}",
        f"[data-jp-theme-light=false] {_V},.vscode-dark {_V},.vscode-high-contrast {_V}{{{_DARK}}}",
        f"{_V}{{font-family:var(--jp-content-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
        "font-size:var(--jp-content-font-size1,13px);line-height:1.5;color:inherit;background:transparent;"
        f"border:1px solid {_BORDER};border-radius:6px;padding:8px 12px;margin:2px 0;max-width:100%;"
        "box-sizing:border-box;overflow-x:auto;text-align:left}",
        f"{_V} .osnb-status{{font-size:12px;margin-bottom:6px}}",
        f"{_V} .osnb-status-rest{{opacity:.75}}",
        f"{_V} .osnb-state{{font-weight:600}}",
        f"{_V} .osnb-state-COMPLETED{{color:{_OK}}}",
        f"{_V} .osnb-state-FAILED{{color:{_ERROR}}}",
        f"{_V} .osnb-state-CANCELLED{{color:{_WARN}}}",
        f"{_V} .osnb-state-RUNNING,{_V} .osnb-state-QUEUED{{color:{_BRAND}}}",
        f"{_V} .osnb-input{{opacity:.75;white-space:pre-wrap;margin:0 0 6px;font-style:italic}}",
        f"{_V} .osnb-error{{color:{_ERROR};white-space:pre-wrap;margin:6px 0}}",
        f"{_V} .osnb-warning{{color:var(--osnb-warn);white-space:pre-wrap;margin:6px 0}}",
        # reasoning: collapsed, dimmed, above the answer
        f"{_V} details.osnb-reasoning{{opacity:.7;margin:0 0 6px;font-size:12px}}",
        f"{_V} details.osnb-reasoning>summary{{cursor:pointer;user-select:none}}",
        f"{_V} .osnb-reasoning-text{{white-space:pre-wrap;overflow-wrap:anywhere;font-style:italic;"
        f"border-left:2px solid {_BORDER};padding-left:8px;margin:4px 0 0;max-height:30em;overflow-y:auto}}",
        # the answer's markdown
        f"{_MD}{{overflow-wrap:anywhere}}",
        f"{_MD}>:first-child{{margin-top:0}}",
        f"{_MD} p,{_MD} ul,{_MD} ol,{_MD} pre,{_MD} table,{_MD} blockquote{{margin:0 0 .6em}}",
        f"{_MD} h1,{_MD} h2,{_MD} h3,{_MD} h4,{_MD} h5,{_MD} h6{{margin:.8em 0 .4em;line-height:1.25;"
        "font-weight:600;color:inherit}",
        f"{_MD} h1{{font-size:1.4em}}{_MD} h2{{font-size:1.25em}}{_MD} h3{{font-size:1.1em}}",
        f"{_MD} h4,{_MD} h5,{_MD} h6{{font-size:1em}}",
        f"{_MD} ul,{_MD} ol{{padding-left:1.6em}}",
        f"{_MD} li>ul,{_MD} li>ol,{_MD} li>p{{margin:0}}",
        f"{_MD} code{{font-family:{_MONO};font-size:.92em;background:{_CODE_BG};padding:.1em .3em;"
        "border-radius:3px;color:inherit}",
        f"{_MD} pre{{background:{_CODE_BG};padding:8px 10px;border-radius:4px;overflow-x:auto;"
        "line-height:1.4;color:inherit;border:none}",
        f"{_MD} pre code{{background:none;padding:0;white-space:pre}}",
        f"{_MD} blockquote{{border-left:3px solid {_BORDER};padding:0 0 0 10px;margin-left:0;opacity:.85;"
        "background:transparent}",
        f"{_MD} table{{border-collapse:collapse;table-layout:auto;margin-left:0;margin-right:auto;"
        "font-size:inherit;color:inherit}",
        f"{_MD} th,{_MD} td{{border:1px solid {_BORDER};padding:3px 8px;text-align:left;vertical-align:top;"
        "line-height:1.4}",
        f"{_MD} th{{font-weight:600}}",
        f"{_MD} [align=right]{{text-align:right}}{_MD} [align=center]{{text-align:center}}",
        f"{_MD} hr{{border:none;border-top:1px solid {_BORDER};margin:.8em 0}}",
        f"{_MD} a{{color:{_LINK}}}",
        f"{_MD} .osnb-img{{opacity:.85}}",
        # the tool table (the same in the live view and the static copy)
        f"{_T}{{border-collapse:collapse;table-layout:auto;margin:8px auto 0 0;font-size:12px;color:inherit}}",
        f"{_T} th,{_T} td{{border:1px solid {_BORDER};padding:2px 6px;text-align:left;vertical-align:top;"
        "line-height:1.4;background:transparent;white-space:normal}",
        f"{_T} th{{font-weight:600}}",
        f"{_T} td.osnb-num,{_T} th.osnb-num{{text-align:right;white-space:nowrap}}",
        f"{_T} td.osnb-prev{{font-family:{_MONO};max-width:28em}}",
        f"{_T} .osnb-line,{_T} td.osnb-prev summary{{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}",
        f"{_T} td.osnb-prev summary{{cursor:pointer;display:block;list-style:none}}",
        f"{_T} td.osnb-prev summary::-webkit-details-marker{{display:none}}",
        f"{_T} td.osnb-prev summary::before{{content:'\\25B8  ';opacity:.7}}",
        f"{_T} td.osnb-prev details[open]>summary::before{{content:'\\25BE  '}}",
        f"{_T} td.osnb-prev pre{{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 0;max-height:24em;"
        f"overflow:auto;font-size:11px;background:{_CODE_BG};padding:4px 6px;border-radius:3px;color:inherit}}",
        f"{_T} tr.osnb-tool-ok .osnb-tstatus{{color:{_OK}}}",
        f"{_T} tr.osnb-tool-error .osnb-tstatus{{color:{_ERROR}}}",
        f"{_T} tr.osnb-tool-running .osnb-tstatus{{color:{_BRAND}}}",
        f"{_T} tr.osnb-tool-pending .osnb-tstatus{{color:{_WARN}}}",
        f"{_T} tr.osnb-tool-rejected .osnb-tstatus{{color:{_WARN}}}",
        f"{_T} td.osnb-tstatus{{min-width:10em;max-width:16em}}",
        f"{_T} .osnb-note{{display:block;color:{_WARN};font-size:11px}}",
    ]
)
"""The view's rules: status line, input, reasoning, answer (markdown), error, tool table."""

_SYNTAX = {
    "k kc kd kn kp kr kt ow": ("keyword", "#a35bd6"),
    "s sa sb sc dl sd s2 se sh si sx sr s1 ss": ("string", "#2f8f46"),
    "m mb mf mh mi mo il": ("number", "#2b80b9"),
    "c ch cm cp cpf c1 cs": ("comment", "#7d8590"),
    "o": ("operator", "#b0661a"),
    "nf fm nc": ("def", "#2f76c5"),
    "nb bp": ("builtin", "#b0661a"),
    "nd": ("meta", "#8a6d3b"),
    "na": ("attribute", "#b0661a"),
    "nt": ("tag", "#2f8f46"),
    "err gd": ("error", "#d1453b"),
    "gh gu": ("header", "#2f76c5"),
}

SYNTAX_CLASSES = frozenset(c for classes in _SYNTAX for c in classes.split())
"""The Pygments classes that get a colour (spans of other classes are left out)."""

CODE_CSS = "".join(
    ",".join(f".osnb-view .osnb-hl .{c}" for c in classes.split())
    + f"{{color:var(--jp-mirror-editor-{var}-color,{fallback})"
    + (";font-style:italic" if var == "comment" else "")
    + "}"
    for classes, (var, fallback) in _SYNTAX.items()
)
"""Colours of Pygments' short classes, read from JupyterLab's editor theme (`--jp-mirror-editor-*`)."""


def style_tag(html: str) -> str:
    """The `<style>` a static copy carries: the view's rules, and the syntax colours when `html` has code."""
    css = VIEW_CSS + (CODE_CSS if "osnb-hl" in html else "")
    return f"<style>{css}</style>"
