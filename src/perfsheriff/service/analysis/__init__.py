"""Finding changes: detection passes over stored series and over JSON lines, and comparing two revisions."""
