"""The one error a received file can give: why it cannot be turned into rows, in words its sender
understands (English for the data engineer, Bahasa Indonesia for the village or branch)."""

from __future__ import annotations


class UnreadableFile(Exception):
    """A received file that cannot be turned into rows, with a reason a sender understands."""

    def __init__(self, code: str, reason: str, alasan: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.alasan = alasan

    def __reduce__(self):  # crosses the reader process's pipe whole
        return (UnreadableFile, (self.code, self.reason, self.alasan))
