"""A third-party plugin laid out as every tg-core plugin is (plugins/README.md)."""

from tg_core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {"word_count": "counting", "word_count_simulator": "functions", "length_loss": "functions"}
)
