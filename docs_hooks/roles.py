"""mkdocs hook: the numpydoc docstrings' Sphinx roles (:meth:`fit`, :class:`...`) shown as code, not as text.

mkdocstrings renders the docstrings as Markdown, where ``:meth:`fit``` comes out as the text ":meth:"
before the code ``fit``; the role names only where Sphinx would link, so dropping it keeps the name.
"""

import re

_ROLE = re.compile(r":(?:meth|func|class|attr|data|mod|obj|exc|py:[a-z]+):(?=<code>)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
