"""Reading the data files our builders are made from, with every defect a user can meet
(a missing, empty, truncated or garbled file, non-UTF-8 text, a malformed record) as one
`common.UserError` line that names the file, the line and the fix.

The rule for bad records is the same in every builder: a record that cannot be read is an
error, never skipped in silence, so a data set is the file as written or nothing.
"""

import gzip
import os
import zlib

from pipelines import common


def read_text(path):
    """The whole text (str) of a UTF-8 file, gunzipped when `path` ends in '.gz'."""
    if not os.path.isfile(path):
        raise common.UserError(f"data file {path} does not exist; put it there (the data "
                               "set's README says where it comes from) or fix "
                               "--config.data.manual_dir.")
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise common.UserError(
                f"data file {path} is not a complete gzip file ({' '.join(str(e).split())});"
                " it is truncated or damaged: copy it again from its source.") from None
    if not data.strip():
        raise common.UserError(f"data file {path} is empty; copy it again from its source.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise common.UserError(
            f"data file {path} line {line} column {column} is not UTF-8 (byte "
            f"0x{data[e.start]:02x}); convert the file to UTF-8 (e.g. iconv -f latin1 -t "
            "utf-8) or copy it again from its source.") from None


def lines(path):
    """[(line number from 1, line)] of `read_text(path)`, split on '\\n' only (U+0085 and
    other Unicode line breaks stay inside a line, as the files mean them)."""
    return list(enumerate(read_text(path).split("\n"), start=1))


def bad_record(path, number, what, fix):
    """The error for line `number` of `path`: `what` is wrong with it, `fix` says what to do."""
    return common.UserError(f"data file {path} line {number}: {what}; {fix}.")
