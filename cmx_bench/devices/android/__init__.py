"""Android phones over adb (adbutils): discovery, pre-checks, artifact push, the runner app, samplers, restore."""
