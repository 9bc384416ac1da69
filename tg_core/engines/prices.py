"""Dollar cost per model, from a table users can extend.

Prices are US dollars per million tokens: (input, output) or (input, output,
cached input), the last for prompt tokens the provider served from its
prefix cache (OpenAI bills them at a quarter to a half of the input price).
Without a cached rate, cached tokens cost the input price. Unknown models,
local ones included, cost nothing rather than a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Completion

Price = tuple[float, float] | tuple[float, float, float]

# OpenAI's list prices (input, output, cached input).
PRICES_PER_MILLION: dict[str, Price] = {
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4.1": (2.00, 8.00, 0.50),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1-nano": (0.10, 0.40, 0.025),
    "o3-mini": (1.10, 4.40, 0.55),
}


def register_price(
    model: str,
    input_per_million: float,
    output_per_million: float,
    cached_input_per_million: float | None = None,
) -> None:
    """Set a model's prices; ``cached_input_per_million`` defaults to the input price."""
    rates = [input_per_million, output_per_million]
    if cached_input_per_million is not None:
        rates.append(cached_input_per_million)
    if any(rate < 0 for rate in rates):
        raise ValueError(f"register_price({model!r}): prices must not be negative")
    PRICES_PER_MILLION[model] = tuple(float(rate) for rate in rates)  # type: ignore[assignment]


def price_of(model: str, table: dict[str, Price] | None = None) -> tuple[float, float, float]:
    """(input, output, cached input) per million tokens for ``model``; zeros if unknown."""
    found: Price | None = None
    for source in (table or {}, PRICES_PER_MILLION):
        if model in source:
            found = source[model]
            break
    if found is None:
        # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs.
        family = max((m for m in PRICES_PER_MILLION if model.startswith(m + "-")), key=len, default=None)
        found = PRICES_PER_MILLION[family] if family else (0.0, 0.0)
    price_in, price_out = found[0], found[1]
    return price_in, price_out, found[2] if len(found) > 2 else price_in


def cost_usd(model: str, completion: Completion, table: dict[str, Price] | None = None) -> float:
    price_in, price_out, price_cached = price_of(model, table)
    return (
        completion.evaluated_prompt_tokens * price_in
        + completion.cached_prompt_tokens * price_cached
        + completion.completion_tokens * price_out
    ) / 1e6
