"""Readers of recorded raw exchange captures (converted into replay files)."""
