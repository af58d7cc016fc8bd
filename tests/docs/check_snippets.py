"""Checks that the C++ in the docs is code that compiles: every ```cpp block preceded by
<!-- snippet: FILE#NAME --> must equal the region of FILE between `// snippet-begin NAME`
and `// snippet-end NAME` (indentation of the begin line removed); FILE is relative to the
source root and is built in CI. In the files listed as STRICT every ```cpp block must be
such a snippet.

Usage: check_snippets.py SOURCE_ROOT
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1])
STRICT = {"README.md", "docs/grpc.md", "docs/http-client.md", "docs/http-server.md", "docs/tls.md"}
MARKER = re.compile(r"<!-- snippet: (\S+)#(\S+) -->")


def region(path, name):
    lines = (ROOT / path).read_text().split("\n")
    begin = [i for i, l in enumerate(lines) if l.strip() == "// snippet-begin " + name]
    end = [i for i, l in enumerate(lines) if l.strip() == "// snippet-end " + name]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        return None
    indent = len(lines[begin[0]]) - len(lines[begin[0]].lstrip())
    body = lines[begin[0] + 1 : end[0]]
    return [l[indent:] if l[:indent].strip() == "" else l for l in body]


def blocks(text):
    """(line number, marker or None, block lines) of every ```cpp block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            marker = MARKER.fullmatch(lines[start - 1].strip()) if start > 0 else None
            indent = len(lines[start]) - len(lines[start].lstrip())  # a block inside a list
            yield start + 1, marker, [l[indent:] for l in lines[start + 1 : j]]
            i = j
        i += 1


def main():
    errors, checked, unmarked = [], 0, {}
    docs = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    for doc in docs:
        rel = str(doc.relative_to(ROOT))
        for line, marker, body in blocks(doc.read_text()):
            if marker is None:
                if rel in STRICT:
                    errors.append("%s:%d: a cpp block that is not a snippet" % (rel, line))
                else:
                    unmarked[rel] = unmarked.get(rel, 0) + 1
                continue
            want = region(marker.group(1), marker.group(2))
            if want is None:
                errors.append("%s:%d: no region %s in %s" % (rel, line, marker.group(2), marker.group(1)))
            elif want != body:
                errors.append("%s:%d: differs from %s#%s" % (rel, line, marker.group(1), marker.group(2)))
            else:
                checked += 1
    for e in errors:
        print(e)
    print("%d snippets match their sources" % checked)
    for rel, n in unmarked.items():
        print("%s: %d cpp blocks not taken from compiled files" % (rel, n))
    return 1 if errors or checked == 0 else 0


sys.exit(main())
