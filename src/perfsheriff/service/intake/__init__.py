"""Results coming in: result files and uploads stored as runs, git history and projects registered."""
