"""The run report of the example task."""


def report_markdown(greeting: str) -> str:
    return f"# example\n\n{greeting}\n"
