"""Text edits of a registry copy, and where the edit landed (for expected lines)."""
import os


class Edit:
    """Replace ``old`` by ``new`` in ``file`` (``count`` times, 1 by default).

    ``old`` may be None to append ``new`` at the end of the file, or a file may be
    created by giving ``create=True``.
    """

    def __init__(self, file, old, new, count=1, create=False, delete=False):
        self.file, self.old, self.new, self.count = file, old, new, count
        self.create, self.delete = create, delete

    def apply(self, registry):
        path = os.path.join(registry, self.file)
        if self.delete:
            os.remove(path)
            return
        if self.create:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = self.new if isinstance(self.new, bytes) else self.new.encode("utf-8")
            with open(path, "wb") as fh:
                fh.write(data)
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
