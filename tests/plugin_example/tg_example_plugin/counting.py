"""The domain: counting words (a stand-in for a real simulator)."""


def word_count(text: str) -> dict[str, int]:
    if "\x00" in text:
        raise ValueError("the text holds a NUL byte")
    return {"words": len(text.split())}
