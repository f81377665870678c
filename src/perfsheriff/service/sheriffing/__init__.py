"""Sheriffs' work: alerts into summaries, culprits, decisions and what detection learns from them, notifying authors."""
