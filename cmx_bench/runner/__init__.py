"""Host reference runner and the runner protocol (job.json in, result.json out)."""
