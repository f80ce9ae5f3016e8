"""The words of each area of the pages, one module per area, merged into issuer.web.i18n.TEXT.

Each module holds ``TEXT: dict[str, tuple[str, str]]`` (key: (Bahasa
Indonesia, English)); a key is defined once across all of them.
"""
