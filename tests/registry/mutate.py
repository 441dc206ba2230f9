"""Text edits of a registry copy, and where the edit landed (for expected lines)."""
import os


class Edit:
    """Replace ``old`` by ``new`` in ``file`` (``count`` times, 1 by default).

    ``old`` may be None to append ``new`` at the end of the file, or a file may be
    created by giving ``create=True``.
    """

    def __init__(self, file, old, new, count=1, create=False):
        self.file, self.old, self.new, self.count, self.create = file, old, new, count, create

    def apply(self, registry):
        path = os.path.join(registry, self.file)
        if self.create:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(self.new)
            return
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if self.old is None:
            text = text.rstrip("\n") + "\n" + self.new
        else:
            assert self.old in text, "edit target %r not in %s" % (self.old, self.file)
            text = text.replace(self.old, self.new, self.count)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def line_of(registry, file, needle, nth=1):
    """1-based line number of the nth occurrence of ``needle`` in ``file``."""
    with open(os.path.join(registry, file), encoding="utf-8") as fh:
        text = fh.read()
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1
