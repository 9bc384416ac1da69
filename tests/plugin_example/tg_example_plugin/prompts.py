"""Prompt templates of the example plugin (shared parts first, the variable last)."""

PURPOSE = "counts the words of a text; fewer words is better"
LENGTH_JUDGE = "You judge the length of a text. Say whether it is short enough and what to cut."
