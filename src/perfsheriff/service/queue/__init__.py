"""The job queue: benchmark runs waiting for an agent of the right machine class."""
