"""A virtual Android phone that speaks the adb wire protocol, so the real adb server and adbutils carry tests."""
