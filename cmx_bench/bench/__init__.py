"""The main job: models x formats on one device -> run records (written as they come) -> report."""
