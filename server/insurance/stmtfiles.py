"""The files of 9101/9102 for 3202 (reference §1.6, §5.2): a ZIP of one TAB-separated UTF-8 text file.

The store uploads its settlement list (UPLOAD_COLUMNS, a refund as its own negative row); the centre's result file
has one row per settlement (RESULT_COLUMNS: stmt_rslt 0 平 / 1 不平, the msgid for 2601, the centre's memo).
"""

from __future__ import annotations

import io
import zipfile

UPLOAD_COLUMNS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
RESULT_COLUMNS = ("psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag", "memo")


def zip_rows(name: str, rows: list[tuple[str, ...]]) -> bytes:
    """One TAB-separated UTF-8 text file named `name` in a ZIP (the files 9101/9102 carry)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, "".join("\t".join(r) + "\n" for r in rows).encode("utf-8"))
    return buf.getvalue()


def unzip_rows(content: bytes) -> list[list[str]]:
    """The rows of the ZIP's text file(s); a file that is not such a ZIP is refused (ValueError)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            text = "".join(z.read(n).decode("utf-8") for n in z.namelist())
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ValueError(f"not a ZIP of UTF-8 text: {exc}") from exc
    return [line.split("\t") for line in text.splitlines() if line.strip()]
